#include "services/scheduler/placement.h"

#include <gtest/gtest.h>

#include <map>

namespace pier::scheduler {
namespace {

msg::HostRecord host(const std::string& id, int cpus = 4, int64_t memory = 8LL << 30) {
  msg::HostRecord h;
  h.id = id;
  h.cpus = cpus;
  h.memory_bytes = memory;
  h.subnet = "127.100.0.0/24";
  return h;
}

msg::AppRecord app(const std::string& name, double cpu = 0.5, int64_t memory = 64LL << 20) {
  msg::AppRecord a;
  a.spec.name = name;
  a.spec.cpu = cpu;
  a.spec.memory_bytes = memory;
  return a;
}

msg::InstanceRecord instance(const std::string& id, const std::string& app, const std::string& host = "") {
  msg::InstanceRecord i;
  i.id = id;
  i.app = app;
  i.host = host;
  return i;
}

TEST(Placement, SpreadsAnAppAcrossHosts) {
  msg::State s;
  s.hosts = {host("a"), host("b"), host("c")};
  s.apps = {app("web")};
  for (int n = 1; n <= 6; ++n) s.instances.push_back(instance("web-" + std::to_string(n), "web"));
  Plan plan = place(s);
  ASSERT_EQ(plan.assignments.size(), 6u);
  std::map<std::string, int> per_host;
  for (const auto& a : plan.assignments) per_host[a.host]++;
  EXPECT_EQ(per_host["a"], 2);
  EXPECT_EQ(per_host["b"], 2);
  EXPECT_EQ(per_host["c"], 2);
}

TEST(Placement, CountsWhatIsAlreadyPlaced) {
  msg::State s;
  s.hosts = {host("a"), host("b")};
  s.apps = {app("web")};
  s.instances = {instance("web-1", "web", "a"), instance("web-2", "web", "a"), instance("web-3", "web")};
  Plan plan = place(s);
  ASSERT_EQ(plan.assignments.size(), 1u);
  EXPECT_EQ(plan.assignments[0].host, "b");
}

TEST(Placement, NeverOnAHostThatCouldNotStartTheInstance) {
  msg::State s;
  s.hosts = {host("a"), host("b"), host("c")};
  s.apps = {app("web")};
  s.instances = {instance("web-1", "web"), instance("web-2", "web", "c")};
  s.instances[0].failed_hosts = {"a", "c"};  // c is also the least loaded for web-1 without web-2: b must win
  Plan plan = place(s);
  ASSERT_EQ(plan.assignments.size(), 1u);
  EXPECT_EQ(plan.assignments[0].host, "b");
  s.instances[0].failed_hosts = {"a", "b", "c"};
  plan = place(s);
  EXPECT_TRUE(plan.assignments.empty());
  ASSERT_EQ(plan.unplaced.size(), 1u);
}

TEST(Placement, RespectsCpuAndMemory) {
  msg::State s;
  s.hosts = {host("small", 1, 128LL << 20), host("big", 8, 16LL << 30)};
  s.apps = {app("fat", 2.0, 1LL << 30)};
  s.instances = {instance("fat-1", "fat"), instance("fat-2", "fat")};
  Plan plan = place(s);
  ASSERT_EQ(plan.assignments.size(), 2u);
  EXPECT_EQ(plan.assignments[0].host, "big");
  EXPECT_EQ(plan.assignments[1].host, "big");
}

TEST(Placement, OvercommitsCpuButNeverMemory) {
  msg::State s;
  s.hosts = {host("a", 2, 1LL << 30)};
  s.apps = {app("web", 0.5, 128LL << 20)};
  for (int i = 1; i <= 10; ++i) s.instances.push_back(instance("web-" + std::to_string(i), "web"));
  // Default 4x: 2 cores take 8 x 0.5 cpu, but 1 GiB takes only 8 x 128 MiB.
  Plan plan = place(s);
  EXPECT_EQ(plan.assignments.size(), 8u);
  EXPECT_EQ(plan.unplaced.size(), 2u);
  s.apps = {app("web", 0.5, 64LL << 20)};
  plan = place(s, PlacementOptions{.cpu_overcommit = 2.0});
  EXPECT_EQ(plan.assignments.size(), 8u) << "2 cores x 2 = 4 cpu = 8 x 0.5";
  plan = place(s);
  EXPECT_EQ(plan.assignments.size(), 10u);
}

TEST(Placement, ReportsWhyAnInstanceDoesNotFit) {
  msg::State s;
  s.hosts = {host("a", 1)};
  s.apps = {app("web", 0.6)};
  s.instances = {instance("web-1", "web"), instance("web-2", "web")};
  Plan plan = place(s, PlacementOptions{.cpu_overcommit = 1.0});
  ASSERT_EQ(plan.assignments.size(), 1u);
  ASSERT_EQ(plan.unplaced.size(), 1u);
  EXPECT_EQ(plan.unplaced[0].instance, "web-2");
  EXPECT_NE(plan.unplaced[0].reason.find("no host has room"), std::string::npos) << plan.unplaced[0].reason;
}

TEST(Placement, AReasonNamesTheFiveHostsWithTheMostRoomAndCountsTheRest) {
  msg::State s;
  for (int h = 0; h < 8; ++h) s.hosts.push_back(host("h" + std::to_string(h), 1));
  s.apps = {app("small", 0.1), app("big", 2.0)};
  // h5 has the most cpu free, then h0-h4 and h6 alike (the lower ids first), h7 the least.
  for (int h = 0; h < 8; ++h)
    if (h != 5) s.instances.push_back(instance("small-" + std::to_string(h), "small", "h" + std::to_string(h)));
  s.instances.push_back(instance("small-9", "small", "h7"));
  s.instances.push_back(instance("big-1", "big"));
  Plan plan = place(s, PlacementOptions{.cpu_overcommit = 1.0});
  ASSERT_EQ(plan.unplaced.size(), 1u);
  const std::string& reason = plan.unplaced[0].reason;
  EXPECT_EQ(reason.rfind("no host has room for cpu 2 and memory", 0), 0u) << reason;
  EXPECT_NE(reason.find("(h5: cpu 1 and memory"), std::string::npos) << reason;
  for (const char* named : {"h0:", "h1:", "h2:", "h3:"}) EXPECT_NE(reason.find(named), std::string::npos) << reason;
  for (const char* left : {"h4:", "h6:", "h7:"}) EXPECT_EQ(reason.find(left), std::string::npos) << reason;
  EXPECT_NE(reason.find(", and 3 more hosts)"), std::string::npos) << reason;
}

TEST(Placement, IgnoresSuspectAndDownHostsAndHostsWithoutSubnet) {
  msg::State s;
  s.hosts = {host("down"), host("fresh"), host("suspect")};
  s.hosts[0].status = "down";
  s.hosts[1].subnet.clear();
  s.hosts[2].status = "suspect";  // not heard from: its replacements must go elsewhere
  s.apps = {app("web")};
  s.instances = {instance("web-1", "web")};
  Plan plan = place(s);
  EXPECT_TRUE(plan.assignments.empty());
  ASSERT_EQ(plan.unplaced.size(), 1u);
  EXPECT_EQ(plan.unplaced[0].reason, "no host is up");
}

TEST(Placement, IsDeterministic) {
  msg::State s;
  s.hosts = {host("b"), host("a")};
  s.apps = {app("web"), app("api")};
  for (int n = 1; n <= 5; ++n) {
    s.instances.push_back(instance("web-" + std::to_string(n), "web"));
    s.instances.push_back(instance("api-" + std::to_string(n), "api"));
  }
  Plan first = place(s);
  for (int i = 0; i < 10; ++i) {
    Plan again = place(s);
    ASSERT_EQ(again.assignments.size(), first.assignments.size());
    for (std::size_t k = 0; k < first.assignments.size(); ++k)
      EXPECT_EQ(again.assignments[k].host, first.assignments[k].host);
  }
}

TEST(Placement, NothingToDoIsAnEmptyPlan) {
  msg::State s;
  s.hosts = {host("a")};
  s.apps = {app("web")};
  s.instances = {instance("web-1", "web", "a")};
  EXPECT_TRUE(place(s).empty());
}

}  // namespace
}  // namespace pier::scheduler
