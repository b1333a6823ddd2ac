#include "services/agent/proc_stats.h"

#include <unistd.h>

#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

#include "common/files.h"

namespace pier::agent {
namespace {

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto end = text.find('\n');
    lines.push_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

std::vector<std::string_view> fields_of(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    std::size_t j = i;
    while (j < line.size() && !std::isspace(static_cast<unsigned char>(line[j]))) ++j;
    if (j > i) fields.push_back(line.substr(i, j - i));
    i = j;
  }
  return fields;
}

template <typename T>
std::optional<T> number(std::string_view text) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// "Key:   1234 kB" -> bytes.
std::optional<int64_t> kb_field(std::string_view line, std::string_view key) {
  if (line.substr(0, key.size()) != key || line.size() <= key.size() || line[key.size()] != ':') return std::nullopt;
  auto fields = fields_of(line.substr(key.size() + 1));
  if (fields.empty()) return std::nullopt;
  auto value = number<int64_t>(fields[0]);
  // Above 1 EiB is no memory size, and would overflow in bytes or in a sum of three (found by tests/fuzz).
  constexpr int64_t kMaxBytes = int64_t{1} << 60;
  const bool kb = fields.size() > 1 && fields[1] == "kB";
  if (!value || *value < 0 || *value > (kb ? kMaxBytes / 1024 : kMaxBytes)) return std::nullopt;
  return kb ? *value * 1024 : *value;
}

}  // namespace

std::optional<MemInfo> parse_meminfo(std::string_view text) {
  std::optional<int64_t> total, available, free, buffers, cached;
  for (auto line : lines_of(text)) {
    if (auto v = kb_field(line, "MemTotal")) total = v;
    if (auto v = kb_field(line, "MemAvailable")) available = v;
    if (auto v = kb_field(line, "MemFree")) free = v;
    if (auto v = kb_field(line, "Buffers")) buffers = v;
    if (auto v = kb_field(line, "Cached")) cached = v;
  }
  if (!total) return std::nullopt;
  if (!available) {
    if (!free) return std::nullopt;
    available = *free + buffers.value_or(0) + cached.value_or(0);
  }
  return MemInfo{*total, *available};
}

std::optional<CpuTimes> parse_proc_stat(std::string_view text) {
  for (auto line : lines_of(text)) {
    auto fields = fields_of(line);
    if (fields.empty() || fields[0] != "cpu") continue;
    if (fields.size() < 5) return std::nullopt;
    CpuTimes times;
    // user nice system idle iowait irq softirq steal (guest time is already inside user and nice)
    for (std::size_t i = 1; i < fields.size() && i <= 8; ++i) {
      auto v = number<uint64_t>(fields[i]);
      if (!v) return std::nullopt;
      times.total += *v;
      if (i != 4 && i != 5) times.busy += *v;
    }
    return times;
  }
  return std::nullopt;
}

double cpu_percent(const CpuTimes& before, const CpuTimes& after) {
  if (after.total <= before.total || after.busy < before.busy) return 0;
  const double busy = static_cast<double>(after.busy - before.busy);
  const double total = static_cast<double>(after.total - before.total);
  return std::min(100.0, 100.0 * busy / total);
}

std::optional<double> parse_loadavg(std::string_view text) {
  auto fields = fields_of(text);
  if (fields.empty()) return std::nullopt;
  try {
    std::size_t used = 0;
    const std::string first(fields[0]);
    double value = std::stod(first, &used);
    if (used != first.size()) return std::nullopt;
    return value;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<uint64_t> parse_pid_stat_ticks(std::string_view text) {
  const auto close = text.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  // After "pid (comm)": state is field 3, utime field 14, stime field 15.
  auto fields = fields_of(text.substr(close + 1));
  if (fields.size() < 13) return std::nullopt;
  auto utime = number<uint64_t>(fields[11]);
  auto stime = number<uint64_t>(fields[12]);
  if (!utime || !stime) return std::nullopt;
  return *utime + *stime;
}

std::optional<int64_t> parse_status_rss(std::string_view text) {
  for (auto line : lines_of(text))
    if (auto v = kb_field(line, "VmRSS")) return v;
  return std::nullopt;
}

int parse_cpuinfo_count(std::string_view text) {
  int count = 0;
  for (auto line : lines_of(text)) {
    auto fields = fields_of(line);
    if (!fields.empty() && fields[0] == "processor") ++count;
  }
  return count;
}

HostFacts read_host_facts() {
  HostFacts facts;
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) == 0) facts.hostname = name;
  const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  facts.cpus = online > 0 ? static_cast<int>(online) : parse_cpuinfo_count(files::read_text("/proc/cpuinfo"));
  if (auto mem = parse_meminfo(files::read_text("/proc/meminfo"))) facts.memory_bytes = mem->total_bytes;
  return facts;
}

std::string host_id_from_hostname(const std::string& hostname) {
  std::string id;
  for (char c : hostname.substr(0, hostname.find('.'))) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') id += c;
  }
  while (!id.empty() && id.front() == '-') id.erase(0, 1);
  if (id.size() > 63) id.resize(63);  // before trimming the end: the cut may leave a '-' last (fuzzing)
  while (!id.empty() && id.back() == '-') id.pop_back();
  return id.empty() ? "localhost" : id;
}

msg::HostSample Sampler::sample(const std::string& host_id, const std::vector<SampledProcess>& processes,
                                int64_t now_ms, int64_t steady_ms) {
  msg::HostSample sample;
  sample.host_id = host_id;
  sample.time_ms = now_ms;
  if (auto cpu = parse_proc_stat(files::read_text(root_ + "/stat"))) {
    if (last_host_) sample.cpu_percent = cpu_percent(*last_host_, *cpu);
    last_host_ = cpu;
  }
  if (auto mem = parse_meminfo(files::read_text(root_ + "/meminfo"))) {
    sample.memory_total_bytes = mem->total_bytes;
    sample.memory_used_bytes = mem->total_bytes - mem->available_bytes;
  }
  sample.load1 = parse_loadavg(files::read_text(root_ + "/loadavg")).value_or(0);
  static const long ticks_per_second = ::sysconf(_SC_CLK_TCK) > 0 ? ::sysconf(_SC_CLK_TCK) : 100;
  std::map<std::string, Last> seen;
  for (const auto& p : processes) {
    const std::string dir = root_ + "/" + std::to_string(p.pid);
    auto ticks = parse_pid_stat_ticks(files::read_text(dir + "/stat"));
    if (!ticks) continue;
    msg::InstanceSample instance;
    instance.id = p.id;
    instance.app = p.app;
    instance.rss_bytes = parse_status_rss(files::read_text(dir + "/status")).value_or(0);
    auto last = last_process_.find(p.id);
    if (last != last_process_.end() && last->second.pid == p.pid && steady_ms > last->second.steady_ms &&
        *ticks >= last->second.ticks) {
      const double seconds = static_cast<double>(steady_ms - last->second.steady_ms) / 1000.0;
      instance.cpu_percent =
          100.0 * static_cast<double>(*ticks - last->second.ticks) / static_cast<double>(ticks_per_second) / seconds;
    }
    seen[p.id] = Last{p.pid, *ticks, steady_ms};
    sample.instances.push_back(std::move(instance));
  }
  last_process_ = std::move(seen);
  return sample;
}

}  // namespace pier::agent
