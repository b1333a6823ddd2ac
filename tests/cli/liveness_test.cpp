#include "cli/liveness.h"

#include <gtest/gtest.h>

#include "common/lb_summary.h"
#include "common/states.h"

namespace pier::cli {
namespace {

msg::InstanceRecord instance(const std::string& id, const std::string& state, const std::string& host = "host-a",
                             const std::string& reason = "") {
  msg::InstanceRecord i;
  i.id = id;
  i.app = id.substr(0, id.rfind('-'));  // the id is <app>-<n>
  i.host = host;
  i.ip = host.empty() ? "" : "127.100.1." + std::to_string(states::instance_serial(id));
  i.state = state;
  i.reason = reason;
  return i;
}

msg::HostRecord host(const std::string& id, std::vector<std::string> servers, const std::string& status = "up") {
  msg::HostRecord h;
  h.id = id;
  h.status = status;
  h.lb.servers = std::move(servers);
  return h;
}

msg::State web_state() {
  msg::State s;
  s.revision = 7;
  msg::AppRecord app;
  app.spec.name = "web";
  app.spec.ports = {{8080, 8000}};
  s.apps.push_back(app);
  s.instances = {instance("web-1", "running"), instance("web-2", "running"), instance("web-3", "running")};
  s.hosts = {host("host-a", {"web-1", "web-2", "web-3"})};
  return s;
}

TEST(BelongsTo, MatchesOnlyTheAppsOwnIds) {
  EXPECT_TRUE(belongs_to("web-1", "web"));
  EXPECT_TRUE(belongs_to("web-120", "web"));
  EXPECT_FALSE(belongs_to("web-api-1", "web"));
  EXPECT_FALSE(belongs_to("web-", "web"));
  EXPECT_FALSE(belongs_to("webx-1", "web"));
  EXPECT_TRUE(belongs_to("web-api-1", "web-api"));
}

TEST(Assess, LiveWhenAllRunAndEveryUpHostServesExactlyThem) {
  auto l = assess(web_state(), "web", 3);
  EXPECT_TRUE(l.live);
  EXPECT_EQ(l.summary(), "3/3 running");
  EXPECT_TRUE(l.waiting_on.empty());
}

TEST(Assess, NotLiveWhileAnInstanceStarts) {
  auto s = web_state();
  s.instances[2].state = "starting";
  auto l = assess(s, "web", 3);
  EXPECT_FALSE(l.live);
  EXPECT_EQ(l.summary(), "2/3 running");
  ASSERT_FALSE(l.waiting_on.empty());
  EXPECT_EQ(l.waiting_on[0], "web-3 starting");
}

TEST(Assess, NotLiveUntilHaproxyServesTheNewInstance) {
  auto s = web_state();
  s.hosts[0].lb.servers = {"web-1", "web-2"};
  auto l = assess(s, "web", 3);
  EXPECT_FALSE(l.live);
  EXPECT_EQ(l.running, 3);
  ASSERT_EQ(l.waiting_on.size(), 1u);
  EXPECT_NE(l.waiting_on[0].find("host-a serves 2 of 3"), std::string::npos);
}

TEST(Assess, NotLiveUntilEveryUpHostsChecksFindTheInstancesUp) {
  auto s = web_state();
  s.hosts.push_back(host("host-b", {"web-1", "web-2", "web-3"}));
  for (auto& h : s.hosts) h.lb.reports_servers_up = true;
  s.hosts[0].lb.servers_up = {"web-1", "web-2", "web-3"};
  s.hosts[1].lb.servers_up = {"web-1", "web-3"};  // web-2 lives on a host host-b does not reach
  auto l = assess(s, "web", 3);
  EXPECT_FALSE(l.live) << "listed is not answering";
  ASSERT_EQ(l.waiting_on.size(), 1u);
  EXPECT_EQ(l.waiting_on[0], "host host-b's HAProxy checks find 2 of 3 instances up (not yet: web-2)");
  s.hosts[1].lb.servers_up = {"api-1", "web-1", "web-2", "web-3"};
  EXPECT_TRUE(assess(s, "web", 3).live);
  s.hosts[1].lb.reports_servers_up = false;  // an older agent: what it lists is all it tells
  s.hosts[1].lb.servers_up.clear();
  EXPECT_TRUE(assess(s, "web", 3).live);
}

// What this version's agents send: per app, a digest and the servers not up named (at most 16).
TEST(Assess, TheWireFormJudgesAsTheListsDo) {
  auto s = web_state();
  s.hosts.push_back(host("host-b", {"web-1", "web-2", "web-3"}));
  for (auto& h : s.hosts) {
    h.lb.reports_servers_up = true;
    h.lb.servers_up = {"web-1", "web-2", "web-3"};
  }
  s.hosts[1].lb.servers_up = {"web-3"};
  for (auto& h : s.hosts) h.lb = lb::for_wire(h.lb);
  auto l = assess(s, "web", 3);
  EXPECT_FALSE(l.live);
  ASSERT_EQ(l.waiting_on.size(), 1u);
  EXPECT_EQ(l.waiting_on[0], "host host-b's HAProxy checks find 1 of 3 instances up (not yet: web-1, web-2)");
  s.hosts[1].lb.apps[0].up = 3;
  s.hosts[1].lb.apps[0].down.clear();
  EXPECT_TRUE(assess(s, "web", 3).live);
  s.hosts[1].lb.apps[0].digest = lb::servers_digest({"web-1", "web-2", "web-4"});  // the same count, other ids
  l = assess(s, "web", 3);
  EXPECT_FALSE(l.live) << "a scaled-away server still listed in place of a new one";
  EXPECT_EQ(l.waiting_on[0], "host host-b serves 3 of 3 instances");
}

TEST(Assess, ManyServersNotUpAreNamedSixteenAndCounted) {
  auto s = web_state();
  s.instances.clear();
  std::vector<std::string> ids;
  for (int n = 1; n <= 20; ++n) {
    ids.push_back("web-" + std::to_string(n));
    s.instances.push_back(instance(ids.back(), "running"));
  }
  s.hosts[0].lb.servers = ids;
  s.hosts[0].lb.reports_servers_up = true;
  s.hosts[0].lb = lb::for_wire(s.hosts[0].lb);
  const auto l = assess(s, "web", 20);
  ASSERT_EQ(l.waiting_on.size(), 1u);
  EXPECT_NE(l.waiting_on[0].find("find 0 of 20 instances up (not yet: web-1, web-10,"), std::string::npos)
      << l.waiting_on[0];
  EXPECT_NE(l.waiting_on[0].find(" and 4 more)"), std::string::npos) << l.waiting_on[0];
}

TEST(Assess, AStaleServerKeepsItNotLive) {
  auto s = web_state();
  s.hosts[0].lb.servers.push_back("web-4");  // scaled away but still in HAProxy
  EXPECT_FALSE(assess(s, "web", 3).live);
}

TEST(Assess, ADrainingInstanceIsNoLongerOneOfTheApps) {
  msg::State s = web_state();
  s.instances[2].state = "draining";  // scaled in: out of HAProxy, finishing its requests
  s.hosts[0].lb.servers = {"web-1", "web-2"};
  EXPECT_TRUE(assess(s, "web", 2).live) << "live without waiting for the drain";
  EXPECT_FALSE(assess(s, "web", 3).live);
}

TEST(Assess, OtherAppsServersAndDownHostsDoNotCount) {
  auto s = web_state();
  s.hosts[0].lb.servers.push_back("web-api-1");
  s.hosts.push_back(host("host-b", {}, "down"));
  EXPECT_TRUE(assess(s, "web", 3).live);
  s.hosts.push_back(host("host-c", {}));  // up, but serves nothing yet
  EXPECT_FALSE(assess(s, "web", 3).live);
}

TEST(Assess, NotLiveWithTooManyOrTooFewInstances) {
  auto s = web_state();
  EXPECT_FALSE(assess(s, "web", 5).live);
  EXPECT_EQ(assess(s, "web", 2).summary(), "3/2 running, 1 to remove");
  EXPECT_FALSE(assess(s, "web", 2).live);
}

TEST(Assess, FailedAndUnplacedComeFirstWithTheirReasons) {
  auto s = web_state();
  s.instances[0].state = "starting";
  s.instances[1] = instance("web-2", "failed", "host-a", "exit code 1");
  s.instances[2] = instance("web-3", "pending", "", "no host with room");
  auto l = assess(s, "web", 3);
  ASSERT_GE(l.waiting_on.size(), 3u);
  EXPECT_EQ(l.waiting_on[0], "web-2 failed: exit code 1");
  EXPECT_EQ(l.failed, 1);
  EXPECT_EQ(l.waiting_on[1], "web-3 pending: no host with room");
  EXPECT_EQ(l.waiting_on[2], "web-1 starting");
}

TEST(Assess, NotLiveWhileARolloutReplacesInstances) {
  auto s = web_state();
  s.apps[0].revision = 9;
  s.apps[0].spec.replicas = 3;
  s.apps[0].rollout.state = "rolling";
  s.apps[0].rollout.to_revision = 9;
  s.apps[0].rollout.ready = 1;
  for (auto& i : s.instances) i.revision = 5;
  s.instances[2].revision = 9;
  auto l = assess(s, "web", 3);
  EXPECT_FALSE(l.live);
  ASSERT_FALSE(l.waiting_on.empty());
  EXPECT_EQ(l.waiting_on[0], "rolling to revision 9: 1/3 new instances healthy");
  EXPECT_TRUE(l.rollout_failed.empty());
  s.apps[0].rollout.state = "done";
  EXPECT_FALSE(assess(s, "web", 3).live) << "instances of revision 5 are still there";
  for (auto& i : s.instances) i.revision = 9;
  EXPECT_TRUE(assess(s, "web", 3).live);
}

TEST(Assess, ARolledBackRolloutFailsOnlyTheDeployThatStartedIt) {
  auto s = web_state();
  s.apps[0].revision = 5;
  s.apps[0].rollout.state = "rolled_back";
  s.apps[0].rollout.from_revision = 9;
  s.apps[0].rollout.to_revision = 5;
  s.apps[0].rollout.reason = "revision 9: instance web-4 failed: exited with code 1";
  EXPECT_EQ(assess(s, "web", 3, 9).rollout_failed,
            "rolled back to revision 5: revision 9: instance web-4 failed: exited with code 1");
  EXPECT_TRUE(assess(s, "web", 3, 10).rollout_failed.empty()) << "a later scale is not about that rollout";
  EXPECT_TRUE(assess(s, "web", 3, 10).live);
}

TEST(Assess, RemovedWhenNoInstanceAndNoServerIsLeft) {
  auto s = web_state();
  EXPECT_FALSE(assess(s, "web", 0).live);
  s.instances.clear();
  s.apps.clear();
  EXPECT_FALSE(assess(s, "web", 0).live) << "HAProxy still serves them";
  s.hosts[0].lb.servers = {"api-1"};
  EXPECT_TRUE(assess(s, "web", 0).live);
  EXPECT_EQ(final_line(s, "web", 0), "web: removed");
}

TEST(Progress, PrintsEachInstanceOnceThenOnlyChanges) {
  auto s = web_state();
  s.instances[2].state = "starting";
  ProgressTracker tracker("web");
  auto lines = tracker.update(s);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], " \u2714 web-1  running  127.100.1.1  host-a");
  EXPECT_EQ(lines[2], " \u2026 web-3  starting  127.100.1.3  host-a");
  EXPECT_TRUE(tracker.update(s).empty());
  s.instances[2].state = "running";
  lines = tracker.update(s);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], " \u2714 web-3  running  127.100.1.3  host-a");
}

TEST(Progress, ReportsFailuresAndRemovals) {
  auto s = web_state();
  ProgressTracker tracker("web");
  tracker.update(s);
  s.instances[0] = instance("web-1", "failed", "host-a", "exit code 3");
  s.instances.pop_back();
  auto lines = tracker.update(s);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], " \u2718 web-1  failed  exit code 3");
  EXPECT_EQ(lines[1], " \u2714 web-3  removed");
}

TEST(Progress, PendingShowsTheReason) {
  msg::State s;
  s.instances = {instance("web-4", "pending", "", "no host is up")};
  ProgressTracker tracker("web");
  auto lines = tracker.update(s);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], " \u2026 web-4  pending  no host is up");
}

TEST(FinalLine, NamesThePortsAndPath) {
  auto s = web_state();
  EXPECT_EQ(final_line(s, "web", 3), "web: 3/3 running, serving on :8080");
  s.apps[0].spec.context_path = "/api";
  EXPECT_EQ(final_line(s, "web", 3), "web: 3/3 running, serving on :8080/api");
}

}  // namespace
}  // namespace pier::cli
