#include "services/agent/proc_stats.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "common/validate.h"

namespace pier::agent {
namespace {

TEST(ProcStats, Meminfo) {
  const char* text =
      "MemTotal:       16303428 kB\n"
      "MemFree:         1234567 kB\n"
      "MemAvailable:    8000000 kB\n"
      "Buffers:          100000 kB\n"
      "Cached:          2000000 kB\n";
  auto mem = parse_meminfo(text);
  ASSERT_TRUE(mem.has_value());
  EXPECT_EQ(mem->total_bytes, 16303428LL * 1024);
  EXPECT_EQ(mem->available_bytes, 8000000LL * 1024);
}

TEST(ProcStats, MeminfoWithoutMemAvailableAddsFreeBuffersCached) {
  auto mem = parse_meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 10 kB\nCached: 1 kB\n");
  ASSERT_TRUE(mem.has_value());
  EXPECT_EQ(mem->available_bytes, 111 * 1024);
  EXPECT_FALSE(parse_meminfo("").has_value());
  EXPECT_FALSE(parse_meminfo("MemTotal: lots kB\n").has_value());
  EXPECT_FALSE(parse_meminfo("MemTotalX: 5 kB\n").has_value());
}

TEST(ProcStats, ProcStatAndCpuPercent) {
  auto before = parse_proc_stat("cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 50 0 50 350 50 0 0 0 0 0\nintr 1 2 3\n");
  auto after = parse_proc_stat("cpu  200 0 200 1300 100 0 0 0 0 0\ncpu0 1 1 1 1\n");
  ASSERT_TRUE(before && after);
  EXPECT_EQ(before->total, 1000u);
  EXPECT_EQ(before->busy, 200u);
  EXPECT_DOUBLE_EQ(cpu_percent(*before, *after), 25.0);  // 200 busy of 800
  EXPECT_DOUBLE_EQ(cpu_percent(*after, *after), 0.0);
  EXPECT_DOUBLE_EQ(cpu_percent(*after, *before), 0.0) << "counters going back are not negative load";
  EXPECT_FALSE(parse_proc_stat("cpu0 1 2 3 4\n").has_value());
  EXPECT_FALSE(parse_proc_stat("cpu 1 x 3 4 5\n").has_value());
  EXPECT_FALSE(parse_proc_stat("cpu 1 2\n").has_value());
}

TEST(ProcStats, Loadavg) {
  EXPECT_DOUBLE_EQ(*parse_loadavg("0.52 0.58 0.59 2/1203 12345\n"), 0.52);
  EXPECT_FALSE(parse_loadavg("").has_value());
  EXPECT_FALSE(parse_loadavg("abc 1 2").has_value());
}

TEST(ProcStats, PidStatTicksSurviveOddCommandNames) {
  const char* text =
      "4242 (my app) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 37 5 0 0 20 0 1 0 12345 10000000 500 "
      "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";
  EXPECT_EQ(*parse_pid_stat_ticks(text), 42u);
  EXPECT_FALSE(parse_pid_stat_ticks("4242 (x) S 1 2").has_value());
  EXPECT_FALSE(parse_pid_stat_ticks("no parenthesis").has_value());
}

TEST(ProcStats, StatusRss) {
  EXPECT_EQ(*parse_status_rss("Name:\tsleep\nVmPeak:\t  8000 kB\nVmRSS:\t    1536 kB\nThreads:\t1\n"), 1536 * 1024);
  EXPECT_FALSE(parse_status_rss("Name:\tkthreadd\nThreads:\t1\n").has_value());
}

TEST(ProcStats, CpuinfoCount) {
  EXPECT_EQ(parse_cpuinfo_count("processor\t: 0\nmodel name\t: x\n\nprocessor\t: 1\nmodel name\t: x\n"), 2);
  EXPECT_EQ(parse_cpuinfo_count(""), 0);
}

TEST(ProcStats, MeminfoRefusesSizesThatOverflow) {
  // Found by tests/fuzz (proc_stats): MemTotal in kB times 1024 overflowed int64 (undefined behaviour).
  EXPECT_FALSE(parse_meminfo("MemTotal: 8759340051707694648 kB\nMemAvailable: 1 kB\n"));
  EXPECT_FALSE(parse_meminfo("MemTotal: -5 kB\nMemAvailable: 1 kB\n"));
  EXPECT_FALSE(parse_status_rss("VmRSS: 9223372036854775807 kB\n"));
  auto ok = parse_meminfo("MemTotal: 16303428 kB\nMemAvailable: 1024 kB\n");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->total_bytes, 16303428LL * 1024);
}

TEST(ProcStats, HostIdFromHostname) {
  EXPECT_EQ(host_id_from_hostname("Web-01.example.com"), "web-01");
  EXPECT_EQ(host_id_from_hostname("_x_"), "x");
  EXPECT_EQ(host_id_from_hostname(""), "localhost");
  EXPECT_EQ(host_id_from_hostname("-a-"), "a");
  // Found by tests/fuzz (proc_stats): cut to 63 characters, the id ended in '-' and was no DNS label.
  const std::string cut = host_id_from_hostname("6--" + std::string(46, 'N') + std::string(14, '-') + "X");
  EXPECT_EQ(cut, "6--" + std::string(46, 'n'));
  EXPECT_TRUE(validate::dns_label("host_id", cut).ok()) << cut;
}

TEST(ProcStats, RealHostFactsAndSample) {
  const HostFacts facts = read_host_facts();
  EXPECT_GT(facts.cpus, 0);
  EXPECT_GT(facts.memory_bytes, 0);
  EXPECT_FALSE(facts.hostname.empty());
  Sampler sampler;
  const std::vector<SampledProcess> me = {{"self-1", "self", ::getpid()}};
  auto first = sampler.sample("h1", me, 1000, 1000);
  EXPECT_EQ(first.host_id, "h1");
  EXPECT_EQ(first.time_ms, 1000);
  EXPECT_GT(first.memory_total_bytes, 0);
  EXPECT_GT(first.memory_used_bytes, 0);
  ASSERT_EQ(first.instances.size(), 1u);
  EXPECT_GT(first.instances[0].rss_bytes, 0);
  volatile double sink = 0;
  for (int i = 0; i < 20'000'000; ++i) sink = sink + i;  // some CPU time for this process
  auto second = sampler.sample("h1", me, 2000, 2000);
  ASSERT_EQ(second.instances.size(), 1u);
  EXPECT_GE(second.instances[0].cpu_percent, 0.0);
  EXPECT_GE(second.cpu_percent, 0.0);
  EXPECT_LE(second.cpu_percent, 100.0);
  auto gone = sampler.sample("h1", {{"gone-1", "gone", 0x7ffffff0}}, 3000, 3000);
  EXPECT_TRUE(gone.instances.empty()) << "a process that is gone is left out";
}

}  // namespace
}  // namespace pier::agent
