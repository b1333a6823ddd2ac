// The /proc files the agent samples (/proc/meminfo, /proc/stat, /proc/loadavg, /proc/<pid>/stat,
// /proc/<pid>/status, /proc/cpuinfo), each parser on any text. A process name in /proc/<pid>/stat is
// chosen by whoever started the process: it may hold spaces, ')' and newlines.
#include "common/validate.h"
#include "services/agent/proc_stats.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pier;
  const std::string_view input = fuzz::text(data, size);
  agent::parse_meminfo(input);
  auto before = agent::parse_proc_stat(input);
  if (before) {
    const double percent = agent::cpu_percent(agent::CpuTimes{}, *before);
    fuzz::require(percent >= 0 && percent <= 100, "cpu_percent is outside 0-100");
  }
  agent::parse_loadavg(input);
  agent::parse_pid_stat_ticks(input);
  agent::parse_status_rss(input);
  agent::parse_cpuinfo_count(input);
  const std::string id = agent::host_id_from_hostname(std::string(input.substr(0, 512)));
  fuzz::require(validate::dns_label("host_id", id).ok(), "a host id made from a hostname is not a DNS label");
  return 0;
}
