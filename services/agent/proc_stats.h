// Host and process figures from /proc: pure parsers of the files' text (tested on samples), and a
// Sampler that reads the files and turns counters into rates between two samples.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/messages.h"

namespace pier::agent {

struct MemInfo {
  int64_t total_bytes = 0;
  int64_t available_bytes = 0;
};
// /proc/meminfo: MemTotal and MemAvailable (MemFree + Buffers + Cached when MemAvailable is missing).
std::optional<MemInfo> parse_meminfo(std::string_view text);

struct CpuTimes {
  uint64_t busy = 0;   // jiffies not idle or iowait
  uint64_t total = 0;  // all jiffies
};
// The aggregate "cpu " line of /proc/stat.
std::optional<CpuTimes> parse_proc_stat(std::string_view text);
// Busy share of the time between two readings, 0-100 (0 when no time passed).
double cpu_percent(const CpuTimes& before, const CpuTimes& after);

// First field of /proc/loadavg.
std::optional<double> parse_loadavg(std::string_view text);
// utime + stime (clock ticks) from /proc/<pid>/stat; the command name may hold spaces and ')'.
std::optional<uint64_t> parse_pid_stat_ticks(std::string_view text);
// VmRSS from /proc/<pid>/status, in bytes.
std::optional<int64_t> parse_status_rss(std::string_view text);
// Number of "processor" entries in /proc/cpuinfo.
int parse_cpuinfo_count(std::string_view text);

struct HostFacts {
  std::string hostname;
  int cpus = 0;
  int64_t memory_bytes = 0;
};
HostFacts read_host_facts();

// A host id from a hostname: lower case, up to the first dot, characters outside [a-z0-9-] dropped; always
// a DNS label (at most 63 characters, no '-' at either end).
std::string host_id_from_hostname(const std::string& hostname);

struct SampledProcess {
  std::string id;
  std::string app;
  pid_t pid = 0;
};

class Sampler {
 public:
  explicit Sampler(std::string proc_root = "/proc") : root_(std::move(proc_root)) {}
  // Figures now; rates are over the time since the previous call (0 on the first one).
  msg::HostSample sample(const std::string& host_id, const std::vector<SampledProcess>& processes, int64_t now_ms,
                         int64_t steady_ms);

 private:
  std::string root_;
  std::optional<CpuTimes> last_host_;
  struct Last {
    pid_t pid = 0;
    uint64_t ticks = 0;
    int64_t steady_ms = 0;
  };
  std::map<std::string, Last> last_process_;
};

}  // namespace pier::agent
