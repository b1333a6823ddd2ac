// Registry command handling against a real SQLite database (in memory, or a temp file to reopen).
#include "services/registry/registry.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include "common/codec.h"
#include "common/lb_summary.h"
#include "common/topics.h"
#include "common/validate.h"
#include "services/registry/dispatch.h"
#include "tests/services/registry/fixture.h"
#include "tests/support/temp_dir.h"

namespace pier::registry {
namespace {

class RegistryTest : public ::testing::Test {
 protected:
  ManualClock clock;
  std::unique_ptr<SqliteStore> store = open_store();
  Registry reg{*store, clock, Config{}};
  int request = 0;

  std::string rid() { return "req-" + std::to_string(++request); }
  int count(const std::string& app) {
    int n = 0;
    for (const auto& i : reg.state().instances) n += i.app == app && i.state != "draining";  // the ones it keeps
    return n;
  }
};

TEST_F(RegistryTest, DeployCreatesAppAndPendingInstances) {
  auto reply = reg.deploy(rid(), {demo()});
  ASSERT_TRUE(reply.ok) << reply.message;
  EXPECT_EQ(reply.revision, 1);
  ASSERT_EQ(reg.state().apps.size(), 1u);
  EXPECT_EQ(reg.state().apps[0].spec.name, "web");
  ASSERT_EQ(count("web"), 3);
  for (const auto& i : reg.state().instances) {
    EXPECT_EQ(i.state, "pending");
    EXPECT_TRUE(i.host.empty());
  }
  EXPECT_EQ(reg.state().instances[0].id, "web-1");
  EXPECT_EQ(reg.state().revision, 1);
}

TEST_F(RegistryTest, EveryBadFieldIsRefusedAndChangesNothing) {
  ASSERT_TRUE(reg.deploy(rid(), {demo("base", 1)}).ok);
  const std::string before = codec::encode(reg.state());
  struct Case {
    std::string field;
    std::function<void(msg::AppSpec&)> breaks;
  };
  const std::vector<Case> cases = {
      {"name", [](auto& s) { s.name = "a;b"; }},
      {"name", [](auto& s) { s.name = std::string(64, 'a'); }},
      {"ports[0].external", [](auto& s) { s.ports[0].external = 0; }},
      {"ports[0].external", [](auto& s) { s.ports[0].external = 70000; }},
      {"protocol", [](auto& s) { s.protocol = "udp"; }},
      {"context_path", [](auto& s) { s.context_path = "/a b"; }},
      {"context_path", [](auto& s) { s.context_path = "/a\nb"; }},
      {"context_path", [](auto& s) { s.context_path = "/a#b"; }},
      {"replicas", [](auto& s) { s.replicas = -1; }},
      {"memory", [](auto& s) { s.memory_bytes = 0; }},
      {"env", [](auto& s) { s.env["A=B"] = "x"; }},
      {"env.FOO", [](auto& s) { s.env["FOO"] = "a\nb"; }},
      {"image", [](auto& s) { s.image = "pier/demo app"; }},
  };
  for (const auto& c : cases) {
    msg::AppSpec spec = demo("web");
    c.breaks(spec);
    auto reply = reg.deploy(rid(), {spec});
    EXPECT_FALSE(reply.ok) << c.field;
    EXPECT_EQ(reply.field, c.field) << reply.message;
    EXPECT_FALSE(reply.rule.empty());
    EXPECT_EQ(codec::encode(reg.state()), before) << c.field;
  }
}

TEST_F(RegistryTest, RetriedRequestIsAppliedOnce) {
  auto first = reg.deploy("same", {demo()});
  auto second = reg.deploy("same", {demo("web", 5)});
  EXPECT_TRUE(second.ok);
  EXPECT_EQ(second.revision, first.revision);
  EXPECT_EQ(count("web"), 3);
  auto scaled = reg.scale("s1", {"web", 5});
  auto again = reg.scale("s1", {"web", 5});
  EXPECT_EQ(count("web"), 5);
  EXPECT_EQ(scaled.revision, again.revision);
}

TEST_F(RegistryTest, ForgottenRequestIdsApplyAgain) {
  ASSERT_TRUE(reg.deploy(rid(), {demo()}).ok);
  ASSERT_TRUE(reg.scale("old", {"web", 4}).ok);
  clock.advance(10'000);
  reg.forget_requests_older_than(5'000);
  ASSERT_TRUE(reg.scale("old", {"web", 6}).ok);
  EXPECT_EQ(count("web"), 6);
}

TEST_F(RegistryTest, CommandWithoutRequestIdIsRefused) {
  auto reply = reg.deploy("", {demo()});
  EXPECT_FALSE(reply.ok);
  EXPECT_EQ(reply.field, "request_id");
  EXPECT_TRUE(reg.state().apps.empty());
}

TEST_F(RegistryTest, ScaleUpAndDownKeepsIdsUnique) {
  ASSERT_TRUE(reg.deploy(rid(), {demo()}).ok);
  ASSERT_TRUE(reg.scale(rid(), {"web", 5}).ok);
  EXPECT_EQ(count("web"), 5);
  ASSERT_TRUE(reg.scale(rid(), {"web", 1}).ok);
  ASSERT_EQ(count("web"), 1);
  EXPECT_EQ(reg.state().instances[0].id, "web-1");  // the oldest stays
  ASSERT_TRUE(reg.scale(rid(), {"web", 2}).ok);
  EXPECT_EQ(reg.state().instances[1].id, "web-6");  // ids are never reused
  EXPECT_EQ(reg.state().apps[0].spec.replicas, 2);
}

TEST_F(RegistryTest, ScaleInPrefersInstancesThatAreNotRunning) {
  ASSERT_TRUE(reg.heartbeat(host("h1")).ok());
  ASSERT_TRUE(reg.deploy(rid(), {demo("web", 2)}).ok);
  ASSERT_TRUE(reg.place(rid(), {0, {{"web-1", "h1"}, {"web-2", "h1"}}, {}}).ok);
  auto status = host("h1");
  status.instances = {{"web-2", "web", "running", "", 42, 0, 0, ""}};
  ASSERT_TRUE(reg.heartbeat(status).ok());
  ASSERT_TRUE(reg.scale(rid(), {"web", 1}).ok);
  ASSERT_EQ(count("web"), 1);
  EXPECT_EQ(reg.state().instances[0].id, "web-1");
  EXPECT_EQ(reg.state().instances[0].state, "draining");
  EXPECT_EQ(reg.state().instances[1].id, "web-2");
  EXPECT_EQ(reg.state().instances[1].state, "running");
}

TEST_F(RegistryTest, ScaleInRemovesTheNamedInstancesFirst) {
  ASSERT_TRUE(reg.heartbeat(host("h1")).ok());
  ASSERT_TRUE(reg.deploy(rid(), {demo("web", 5)}).ok);
  ASSERT_TRUE(reg.deploy(rid(), {[] {
                           auto api = demo("api", 1);
                           api.ports = {{8081, 8000}};
                           return api;
                         }()})
                  .ok);
  ASSERT_TRUE(
      reg.place(rid(), {0, {{"web-1", "h1"}, {"web-2", "h1"}, {"web-3", "h1"}, {"web-4", "h1"}, {"web-5", "h1"}}, {}})
          .ok);
  auto status = host("h1");
  for (int n = 1; n <= 4; ++n)
    status.instances.push_back({"web-" + std::to_string(n), "web", "running", "", 40 + n, 0, 0, ""});
  ASSERT_TRUE(reg.heartbeat(status).ok());
  // web-5 is not running, yet the named ones go first; api-6 is not web's, web-9 does not exist.
  msg::ScaleCommand command{"web", 3, {"api-6", "web-9", "web-2", "web-2", "web-1", "web-3"}};
  ASSERT_TRUE(reg.scale(rid(), command).ok);
  std::set<std::string> left;
  for (const auto& i : reg.state().instances)
    if (i.state != "draining") left.insert(i.id);
  EXPECT_EQ(left, (std::set<std::string>{"web-3", "web-4", "web-5", "api-6"}));
  // Fewer named than needed: then the ones not running, then the newest.
  command = {"web", 1, {"web-4"}};
  ASSERT_TRUE(reg.scale(rid(), command).ok);
  left.clear();
  for (const auto& i : reg.state().instances)
    if (i.state != "draining") left.insert(i.id);
  EXPECT_EQ(left, (std::set<std::string>{"web-3", "api-6"}));
  // Scaling up ignores the list.
  command = {"web", 2, {"web-3"}};
  ASSERT_TRUE(reg.scale(rid(), command).ok);
  EXPECT_EQ(count("web"), 2);
}

TEST_F(RegistryTest, ScaleRefusesBadRemoveFirstIds) {
  ASSERT_TRUE(reg.deploy(rid(), {demo()}).ok);
  msg::ScaleCommand command{"web", 1, {"web-1", "Web_2"}};
  auto reply = reg.scale(rid(), command);
  EXPECT_FALSE(reply.ok);
  EXPECT_EQ(reply.field, "remove_first[1]");
  command.remove_first.assign(1001, "web-1");
  EXPECT_EQ(reg.scale(rid(), command).field, "remove_first");
  EXPECT_EQ(count("web"), 3) << "a refused command changes nothing";
}

TEST_F(RegistryTest, ScaleAndRemoveUnknownAppAreRefused) {
  EXPECT_EQ(reg.scale(rid(), {"nope", 2}).field, "app");
  EXPECT_EQ(reg.remove(rid(), {"nope"}).field, "app");
  ASSERT_TRUE(reg.deploy(rid(), {demo()}).ok);
  EXPECT_EQ(reg.scale(rid(), {"web", -1}).field, "replicas");
  EXPECT_EQ(count("web"), 3);
}

TEST_F(RegistryTest, RemoveDeletesAppAndInstances) {
  ASSERT_TRUE(reg.deploy(rid(), {demo()}).ok);
  ASSERT_TRUE(reg.deploy(rid(), {demo("other", 1)}).ok == false);  // same port and path
  auto other = demo("other", 1);
  other.ports = {{9090, 8000}};
  ASSERT_TRUE(reg.deploy(rid(), {other}).ok);
  ASSERT_TRUE(reg.remove(rid(), {"web"}).ok);
  ASSERT_EQ(reg.state().apps.size(), 1u);
  EXPECT_EQ(count("web"), 0);
  EXPECT_EQ(count("other"), 1);
}

TEST_F(RegistryTest, PortSharingRules) {
  auto root = demo("root", 1);
  ASSERT_TRUE(reg.deploy(rid(), {root}).ok);
  auto api = demo("api", 1);
  api.context_path = "/api";
  EXPECT_TRUE(reg.deploy(rid(), {api}).ok) << "http apps share a port by context path";
  auto clash = demo("clash", 1);
  clash.context_path = "/api";
  EXPECT_EQ(reg.deploy(rid(), {clash}).field, "context_path");
  auto tcp = demo("echo", 1);
  tcp.protocol = "tcp";
  EXPECT_EQ(reg.deploy(rid(), {tcp}).field, "ports[0].external");
  tcp.ports = {{9000, 7000}};
  EXPECT_TRUE(reg.deploy(rid(), {tcp}).ok);
}

TEST_F(RegistryTest, ChangedSpecReplacesInstancesSameSpecOnlyScales) {
  ASSERT_TRUE(reg.deploy(rid(), {demo()}).ok);
  ASSERT_TRUE(reg.deploy(rid(), {demo("web", 4)}).ok);
  EXPECT_EQ(count("web"), 4);
  EXPECT_EQ(reg.state().instances[0].id, "web-1");
  auto changed = demo("web", 2);
  changed.tag = "0.2.0";
  ASSERT_TRUE(reg.deploy(rid(), {changed}).ok);
  ASSERT_EQ(count("web"), 2);
  EXPECT_EQ(reg.state().instances[0].id, "web-5");
  EXPECT_EQ(reg.state().apps[0].spec.tag, "0.2.0");
}

TEST_F(RegistryTest, HeartbeatRegistersHostsWithDistinctSubnets) {
  auto changed = reg.heartbeat(host("h1"));
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(*changed);
  ASSERT_TRUE(reg.heartbeat(host("h2")).ok());
  ASSERT_EQ(reg.state().hosts.size(), 2u);
  EXPECT_EQ(reg.state().hosts[0].subnet, "127.112.0.0/24");
  EXPECT_EQ(reg.state().hosts[1].subnet, "127.112.1.0/24");
  const int64_t revision = reg.state().revision;
  auto again = reg.heartbeat(host("h1"));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again) << "an unchanged heartbeat is not a state change";
  EXPECT_EQ(reg.state().revision, revision);
  EXPECT_FALSE(reg.heartbeat(host("Bad;Host")).ok());
  EXPECT_EQ(reg.state().hosts.size(), 2u);
}

msg::HostStatus fleet_host(const std::string& id, const std::string& address) {
  msg::HostStatus h = host(id);
  h.address = address;
  h.overlay = {"vxlan", address, "0a:1b:2c:3d:4e:5f", 1, 4789, 1450, 7709};
  return h;
}

TEST_F(RegistryTest, HostsOnAnOverlayGetRoutedSubnetsAndTheirOverlayIsInTheState) {
  ASSERT_TRUE(reg.heartbeat(host("alone")).ok());
  ASSERT_TRUE(reg.heartbeat(fleet_host("h1", "10.77.1.11")).ok());
  ASSERT_EQ(reg.state().hosts.size(), 2u);
  EXPECT_EQ(reg.state().hosts[0].subnet, "127.112.0.0/24") << "no overlay: a loopback subnet, as on one machine";
  EXPECT_EQ(reg.state().hosts[1].subnet, "10.224.1.0/24") << "on an overlay: a routed subnet";
  EXPECT_EQ(reg.state().hosts[1].overlay.vtep_mac, "0a:1b:2c:3d:4e:5f");

  auto reported = fleet_host("h1", "10.77.1.11");
  reported.peers = {{"alone", false, 0, "connect timed out after 500 ms"}};
  ASSERT_TRUE(*reg.heartbeat(reported));
  const int64_t revision = reg.state().revision;
  reported.peers[0].error = "";
  reported.peers[0].reachable = true;
  reported.peers[0].rtt_us = 180;
  ASSERT_TRUE(*reg.heartbeat(reported)) << "a peer that became reachable is news";
  EXPECT_TRUE(reg.state().hosts[1].peers.at(0).reachable);
  reported.peers[0].rtt_us = 240;
  EXPECT_FALSE(*reg.heartbeat(reported)) << "another round trip time alone is not";
  EXPECT_EQ(reg.state().revision, revision) << "peers are soft state: published without a revision";
}

// What a host's HAProxy runs changes with every config on every host: published, never a revision or a
// write, and the host's row takes it with its next real change.
TEST_F(RegistryTest, AnLbStatusChangeIsPublishedWithoutARevisionOrAWrite) {
  pier::testing::TempDir dir("pier-registry-soft-");
  const std::string path = dir.path() + "/registry.db";
  auto file_db = open_store(path);
  Registry first(*file_db, clock, Config{});
  ASSERT_TRUE(first.heartbeat(host("h1")).ok());
  const int64_t revision = first.state().revision;
  auto status = host("h1");
  status.lb.hash = "abc";
  status.lb.reports_servers_up = true;
  status.lb.servers = {"web-1"};
  status.lb = lb::for_wire(status.lb);
  ASSERT_TRUE(*first.heartbeat(status)) << "news for pier deploy and pier hosts";
  EXPECT_EQ(first.state().hosts[0].lb.hash, "abc");
  EXPECT_EQ(first.state().revision, revision);
  EXPECT_FALSE(*first.heartbeat(status)) << "the same again is nothing";
  status.renders_lb = true;  // its agent renders from lb.spec: lbgen must know at once
  ASSERT_TRUE(*first.heartbeat(status));
  EXPECT_TRUE(first.state().hosts[0].renders_lb);
  EXPECT_EQ(first.state().revision, revision);
  {
    auto reread = open_store(path);
    Registry reopened(*reread, clock, Config{});
    ASSERT_EQ(reopened.state().hosts.size(), 1u);
    EXPECT_EQ(reopened.state().hosts[0].lb.hash, "") << "not written: the next heartbeat says it again";
  }
  status.cpus = 8;  // a real change: the row is written, with the LbStatus of the moment
  ASSERT_TRUE(*first.heartbeat(status));
  EXPECT_EQ(first.state().revision, revision + 1);
  auto reread = open_store(path);
  Registry reopened(*reread, clock, Config{});
  EXPECT_EQ(reopened.state().hosts[0].lb.hash, "abc");
}

TEST_F(RegistryTest, ABadOverlayIsRefusedNamingTheFieldAndChangesNothing) {
  const auto refused_field = [&](const msg::HostStatus& status) {
    const int64_t revision = reg.state().revision;
    auto result = reg.heartbeat(status);
    EXPECT_EQ(reg.state().revision, revision);
    return result.ok() ? std::string("(accepted)") : result.status().field();
  };
  auto bad = fleet_host("h1", "10.77.1.11");
  bad.overlay.underlay = "10.77.1";
  EXPECT_EQ(refused_field(bad), "overlay.underlay");
  bad = fleet_host("h1", "10.77.1.11");
  bad.overlay.vtep_mac = "0a:1b:2c:3d:4e";
  EXPECT_EQ(refused_field(bad), "overlay.vtep_mac");
  bad = fleet_host("h1", "10.77.1.11");
  bad.overlay.mode = "gre";
  EXPECT_EQ(refused_field(bad), "overlay.mode");
  bad = fleet_host("h1", "10.77.1.11");
  bad.peers = {{"No Such;Host", true, 1, ""}};
  EXPECT_EQ(refused_field(bad), "peers[0].host");
  EXPECT_TRUE(reg.state().hosts.empty());
}

TEST_F(RegistryTest, ABadLbSummaryIsRefusedNamingTheFieldAndChangesNothing) {
  ASSERT_TRUE(reg.heartbeat(host("h1")).ok());
  const int64_t revision = reg.state().revision;
  const auto good = [] {
    auto h = host("h1");
    h.lb.reports_servers_up = true;
    h.lb.servers = {"api-1", "web-1", "web-2"};
    h.lb = lb::for_wire(h.lb);
    return h;
  };
  const struct {
    const char* field;
    std::function<void(msg::LbStatus&)> spoil;
  } cases[] = {
      {"lb.apps[1].app", [](msg::LbStatus& lb) { lb.apps[1].app = "Web;x"; }},
      {"lb.apps[1].app", [](msg::LbStatus& lb) { std::swap(lb.apps[0], lb.apps[1]); }},
      {"lb.apps[1].app", [](msg::LbStatus& lb) { lb.apps[1].app = lb.apps[0].app; }},
      {"lb.apps[0].listed", [](msg::LbStatus& lb) { lb.apps[0].listed = -1; }},
      {"lb.apps[1].up", [](msg::LbStatus& lb) { lb.apps[1].up = 3; }},
      {"lb.apps[0].digest", [](msg::LbStatus& lb) { lb.apps[0].digest = "xyz"; }},
      {"lb.apps[1].down",
       [](msg::LbStatus& lb) {
         lb.apps[1].down = {"web-1", "web-2", "web-3"};
       }},
      {"lb.apps[1].down[0]", [](msg::LbStatus& lb) { lb.apps[1].down = {"api-1"}; }},
  };
  for (const auto& c : cases) {
    auto status = good();
    status.lb.apps[1].up = 1;
    status.lb.apps[1].down = {"web-2"};
    ASSERT_TRUE(validate::lb_status("lb", status.lb).ok()) << "the good one before " << c.field;
    c.spoil(status.lb);
    auto result = reg.heartbeat(status);
    ASSERT_FALSE(result.ok()) << c.field;
    EXPECT_EQ(result.status().field(), c.field) << result.status().message();
    EXPECT_EQ(reg.state().revision, revision);
  }
  auto fine = good();
  ASSERT_TRUE(reg.heartbeat(fine).ok());
  EXPECT_EQ(reg.state().hosts[0].lb.apps.size(), 2u) << "kept as the agent sent it";
}

TEST_F(RegistryTest, PlacementAssignsDistinctIpsFromTheHostSubnet) {
  ASSERT_TRUE(reg.heartbeat(host("h1")).ok());
  ASSERT_TRUE(reg.heartbeat(host("h2")).ok());
  ASSERT_TRUE(reg.deploy(rid(), {demo()}).ok);
  auto reply = reg.place(rid(), {0, {{"web-1", "h1"}, {"web-2", "h2"}, {"web-3", "h1"}, {"web-9", "h1"}}, {}});
  ASSERT_TRUE(reply.ok) << reply.message;
  const auto& inst = reg.state().instances;
  EXPECT_EQ(inst[0].host, "h1");
  EXPECT_EQ(inst[0].ip, "127.112.0.2");
  EXPECT_EQ(inst[1].ip, "127.112.1.2");
  EXPECT_EQ(inst[2].ip, "127.112.0.3");
  EXPECT_EQ(inst[0].state, "placed");
  // Placing again is a no-op: the instance stays where it is.
  EXPECT_FALSE(reg.place(rid(), {0, {{"web-1", "h2"}}, {}}).ok);
  EXPECT_EQ(reg.state().instances[0].host, "h1");
}

TEST_F(RegistryTest, HeartbeatCopiesInstanceStatesOfItsOwnInstancesOnly) {
  ASSERT_TRUE(reg.heartbeat(host("h1")).ok());
  ASSERT_TRUE(reg.heartbeat(host("h2")).ok());
  ASSERT_TRUE(reg.deploy(rid(), {demo("web", 2)}).ok);
  ASSERT_TRUE(reg.place(rid(), {0, {{"web-1", "h1"}, {"web-2", "h2"}}, {}}).ok);
  auto status = host("h1");
  status.instances = {{"web-1", "web", "running", "", 100, 0, 0, ""}, {"web-2", "web", "running", "", 101, 0, 0, ""}};
  status.lb.servers = {"web-1"};
  status.lb.hash = "abc";
  auto changed = reg.heartbeat(status);
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(*changed);
  EXPECT_EQ(reg.state().instances[0].state, "running");
  EXPECT_EQ(reg.state().instances[0].pid, 100);
  EXPECT_EQ(reg.state().instances[1].state, "placed") << "h1 cannot report h2's instance";
  EXPECT_EQ(reg.state().hosts[0].lb.servers, std::vector<std::string>{"web-1"});
}

msg::InstanceStatus failed_status(const std::string& id, bool host_fault) {
  msg::InstanceStatus i;
  i.id = id;
  i.app = "web";
  i.state = "failed";
  i.reason = host_fault ? "cannot start: pull pier/demo-app:0.1.0: no registry" : "exited with code 3";
  i.host_fault = host_fault;
  return i;
}

TEST_F(RegistryTest, AnInstanceItsHostCouldNotStartIsReplacedElsewhereOnlyOncePerHost) {
  ASSERT_TRUE(reg.heartbeat(host("h1")).ok());
  ASSERT_TRUE(reg.heartbeat(host("h2")).ok());
  ASSERT_TRUE(reg.deploy(rid(), {demo("web", 1)}).ok);
  ASSERT_TRUE(reg.place(rid(), {0, {{"web-1", "h1"}}, {}}).ok);
  auto h1 = host("h1");
  h1.instances = {failed_status("web-1", true)};
  ASSERT_TRUE(*reg.heartbeat(h1));
  ASSERT_EQ(reg.state().instances.size(), 2u);
  const auto& old = reg.state().instances[0];
  EXPECT_EQ(old.id, "web-1");
  EXPECT_EQ(old.host, "h1");
  EXPECT_EQ(old.state, "draining") << "it runs nothing; its agent lets it go";
  const auto& moved = reg.state().instances[1];
  EXPECT_EQ(moved.id, "web-2") << "a new id: h1's later reports of web-1 cannot touch it";
  EXPECT_EQ(moved.host, "") << "unplaced, for the scheduler to place";
  EXPECT_EQ(moved.ip, "");
  EXPECT_EQ(moved.state, "pending");
  EXPECT_EQ(moved.failed_hosts, std::vector<std::string>{"h1"});
  EXPECT_NE(moved.reason.find("replaces web-1: host h1 could not start it (cannot start: pull"), std::string::npos)
      << moved.reason;
  EXPECT_EQ(count("web"), 1) << "replicas stay 1";

  // On h2 it fails the same way: no up host is left that has not failed it, so it stays failed there.
  ASSERT_TRUE(reg.place(rid(), {0, {{"web-2", "h2"}}, {}}).ok);
  auto h2 = host("h2");
  h2.instances = {failed_status("web-2", true)};
  ASSERT_TRUE(*reg.heartbeat(h2));
  ASSERT_EQ(count("web"), 1);
  EXPECT_EQ(reg.state().instances[1].id, "web-2");
  EXPECT_EQ(reg.state().instances[1].host, "h2");
  EXPECT_EQ(reg.state().instances[1].state, "failed");
  EXPECT_EQ(reg.state().instances[1].failed_hosts, std::vector<std::string>{"h1"});
}

TEST_F(RegistryTest, AnAppThatExitsByItselfStaysFailedWhereItIs) {
  ASSERT_TRUE(reg.heartbeat(host("h1")).ok());
  ASSERT_TRUE(reg.heartbeat(host("h2")).ok());
  ASSERT_TRUE(reg.deploy(rid(), {demo("web", 1)}).ok);
  ASSERT_TRUE(reg.place(rid(), {0, {{"web-1", "h1"}}, {}}).ok);
  auto h1 = host("h1");
  h1.instances = {failed_status("web-1", false)};
  ASSERT_TRUE(*reg.heartbeat(h1));
  EXPECT_EQ(reg.state().instances[0].host, "h1");
  EXPECT_EQ(reg.state().instances[0].state, "failed");
  EXPECT_TRUE(reg.state().instances[0].failed_hosts.empty());
}

TEST_F(RegistryTest, FailedHostsSurviveReopeningTheDatabase) {
  const auto path = std::filesystem::temp_directory_path() / ("pier-registry-failed-" + std::to_string(::getpid()));
  {
    auto file_db = open_store(path.string());
    Registry r{*file_db, clock, Config{}};
    ASSERT_TRUE(r.heartbeat(host("h1")).ok());
    ASSERT_TRUE(r.heartbeat(host("h2")).ok());
    ASSERT_TRUE(r.deploy("a", {demo("web", 1)}).ok);
    ASSERT_TRUE(r.place("b", {0, {{"web-1", "h1"}}, {}}).ok);
    auto h1 = host("h1");
    h1.instances = {failed_status("web-1", true)};
    ASSERT_TRUE(*r.heartbeat(h1));
  }
  auto file_db = open_store(path.string());
  Registry r{*file_db, clock, Config{}};
  ASSERT_EQ(r.state().instances.size(), 2u);
  EXPECT_EQ(r.state().instances[1].id, "web-2") << "web-1's replacement";
  EXPECT_EQ(r.state().instances[1].failed_hosts, std::vector<std::string>{"h1"});
  std::filesystem::remove(path);
}

msg::InstanceStatus running_status(const std::string& id) {
  msg::InstanceStatus i;
  i.id = id;
  i.app = "web";
  i.state = "running";
  return i;
}

TEST_F(RegistryTest, ScaleInDrainsPlacedInstancesUntilTheirAgentStopsThem) {
  ASSERT_TRUE(reg.heartbeat(host("h1")).ok());
  ASSERT_TRUE(reg.deploy(rid(), {demo("web", 3)}).ok);
  ASSERT_TRUE(reg.place(rid(), {0, {{"web-1", "h1"}, {"web-2", "h1"}}, {}}).ok);  // web-3 is never placed
  auto h1 = host("h1");
  h1.instances = {running_status("web-1"), running_status("web-2")};
  ASSERT_TRUE(reg.heartbeat(h1).ok());

  ASSERT_TRUE(reg.scale(rid(), {"web", 1}).ok);
  std::map<std::string, std::string> states;
  for (const auto& i : reg.state().instances) states[i.id] = i.state;
  EXPECT_EQ(states, (std::map<std::string, std::string>{{"web-1", "running"}, {"web-2", "draining"}}))
      << "the unplaced one goes at once, the newest placed one drains";

  // The agent has not seen the change yet and still says running: draining stays.
  ASSERT_TRUE(reg.heartbeat(h1).ok());
  EXPECT_EQ(reg.state().instances[1].state, "draining");
  // Scaling counts only the instances that stay: back to 2 creates one more, it does not revive web-2.
  ASSERT_TRUE(reg.scale(rid(), {"web", 2}).ok);
  EXPECT_EQ(count("web"), 2);
  EXPECT_EQ(reg.state().instances.size(), 3u);
  // The agent stopped it (no longer reports it): the row goes.
  h1.instances = {running_status("web-1")};
  ASSERT_TRUE(*reg.heartbeat(h1));
  std::set<std::string> ids;
  for (const auto& i : reg.state().instances) ids.insert(i.id);
  EXPECT_EQ(ids, (std::set<std::string>{"web-1", "web-4"}));
}

TEST_F(RegistryTest, AnotherExternalPortOntoTheSameInternalOneKeepsTheInstances) {
  ASSERT_TRUE(reg.deploy(rid(), {demo("web", 2)}).ok);
  const int64_t revision = reg.state().apps[0].revision;
  auto more = demo("web", 2);
  more.ports.push_back({9090, 8000});
  ASSERT_TRUE(reg.deploy(rid(), {more}).ok);
  EXPECT_EQ(reg.state().apps[0].revision, revision) << "the instances run the same thing";
  EXPECT_EQ(count("web"), 2);
  more.ports.push_back({9091, 8001});
  ASSERT_TRUE(reg.deploy(rid(), {more}).ok);
  EXPECT_NE(reg.state().apps[0].revision, revision) << "a new internal port is the instances' business";
}

TEST_F(RegistryTest, ANewSpecDrainsTheOldInstancesWhileNewOnesStart) {
  ASSERT_TRUE(reg.heartbeat(host("h1")).ok());
  ASSERT_TRUE(reg.deploy(rid(), {demo("web", 2)}).ok);
  ASSERT_TRUE(reg.place(rid(), {0, {{"web-1", "h1"}, {"web-2", "h1"}}, {}}).ok);
  auto changed = demo("web", 2);
  changed.env = {{"COLOR", "blue"}};
  ASSERT_TRUE(reg.deploy(rid(), {changed}).ok);
  std::map<std::string, std::string> states;
  for (const auto& i : reg.state().instances) states[i.id] = i.state;
  EXPECT_EQ(states, (std::map<std::string, std::string>{
                        {"web-1", "draining"}, {"web-2", "draining"}, {"web-3", "pending"}, {"web-4", "pending"}}));
}

// A rollout on one host, through heartbeats and commands: instances are placed and reported by hand, as
// the scheduler and the agent would. What each step decides is rollout_test.cpp's (the planner alone);
// these check that the registry applies the plans: retires, creates, rolls back on a tick, keeps state.
class RolloutTest : public RegistryTest {
 protected:
  msg::HostStatus h1 = host("h1");
  std::map<std::string, std::string> reported;  // instance id -> state its agent reports

  void SetUp() override { ASSERT_TRUE(reg.heartbeat(h1).ok()); }
  // Places every pending instance on h1 and reports what `reported` says (running by default for ones
  // placed earlier than this call, as the test sets them).
  void agent() {
    msg::PlaceCommand place;
    for (const auto& i : reg.state().instances)
      if (i.host.empty()) place.assignments.push_back({i.id, "h1"});
    if (!place.assignments.empty()) {
      ASSERT_TRUE(reg.place(rid(), place).ok);
    }
    h1.instances.clear();
    for (const auto& [id, state] : reported) {
      msg::InstanceStatus status = running_status(id);
      status.state = state;
      h1.instances.push_back(status);
    }
    ASSERT_TRUE(reg.heartbeat(h1).ok());
  }
  std::map<std::string, std::string> states() const {
    std::map<std::string, std::string> out;
    for (const auto& i : reg.state().instances) out[i.id] = i.state;
    return out;
  }
  const msg::AppRecord& app() const { return reg.state().apps.at(0); }
  void deploy_running(int replicas) {
    ASSERT_TRUE(reg.deploy(rid(), {demo("web", replicas)}).ok);
    agent();
    for (const auto& i : reg.state().instances) reported[i.id] = "running";
    agent();
  }
  msg::AppSpec v2(int replicas = 2) {
    auto spec = demo("web", replicas);
    spec.tag = "0.2.0";
    spec.rollout_timeout_ms = 10'000;
    return spec;
  }
};

TEST_F(RolloutTest, ANewSpecReplacesOneInstanceAtATimeEachStepGatedOnHealth) {
  deploy_running(2);
  const int64_t v1 = app().revision;
  ASSERT_TRUE(reg.deploy(rid(), {v2()}).ok);
  EXPECT_EQ(states(),
            (std::map<std::string, std::string>{{"web-1", "running"}, {"web-2", "running"}, {"web-3", "pending"}}))
      << "max_surge 1: one new instance, no old one stops before it is healthy";
  EXPECT_EQ(app().rollout.state, "rolling");
  EXPECT_EQ(app().rollout.from_revision, v1);
  ASSERT_EQ(app().revisions.size(), 1u);
  EXPECT_EQ(app().revisions[0].spec.tag, "0.1.0") << "agents still need the old spec";
  reported["web-3"] = "starting";
  agent();
  EXPECT_EQ(states().at("web-1"), "running") << "starting is not healthy";
  reported["web-3"] = "running";
  agent();
  EXPECT_EQ(states(), (std::map<std::string, std::string>{
                          {"web-1", "draining"}, {"web-2", "running"}, {"web-3", "running"}, {"web-4", "pending"}}));
  reported.erase("web-1");
  reported["web-4"] = "running";
  agent();
  EXPECT_EQ(states(),
            (std::map<std::string, std::string>{{"web-2", "draining"}, {"web-3", "running"}, {"web-4", "running"}}));
  EXPECT_EQ(app().rollout.state, "done");
  EXPECT_TRUE(app().revisions.empty());
  for (const auto& i : reg.state().instances)
    if (i.state != "draining") {
      EXPECT_EQ(i.revision, app().revision) << i.id;
    }
}

TEST_F(RolloutTest, NewInstancesThatNeverBecomeHealthyAreRolledBackWithoutTouchingTheOldOnes) {
  deploy_running(2);
  const int64_t v1 = app().revision;
  ASSERT_TRUE(reg.deploy(rid(), {v2()}).ok);
  const int64_t v2_revision = app().revision;
  reported["web-3"] = "starting";
  agent();
  clock.advance(9'999);
  agent();
  ASSERT_FALSE(*reg.tick());
  EXPECT_EQ(app().rollout.state, "rolling");
  clock.advance(1);
  ASSERT_TRUE(*reg.tick());
  EXPECT_EQ(app().rollout.state, "rolled_back");
  EXPECT_EQ(app().revision, v1);
  EXPECT_EQ(app().spec.tag, "0.1.0");
  EXPECT_EQ(app().rollout.reason,
            "revision " + std::to_string(v2_revision) + ": instance web-3 not healthy within 10 s (starting)");
  EXPECT_EQ(states(),
            (std::map<std::string, std::string>{{"web-1", "running"}, {"web-2", "running"}, {"web-3", "draining"}}));
}

TEST_F(RolloutTest, AFailedNewInstanceRollsBackAtOnceAndTheStepsTakenAreUndone) {
  deploy_running(2);
  ASSERT_TRUE(reg.deploy(rid(), {v2()}).ok);
  reported["web-3"] = "running";
  agent();  // web-1 drains, web-4 comes
  reported.erase("web-1");
  reported["web-4"] = "failed";
  agent();
  EXPECT_EQ(app().rollout.state, "rolling_back");
  EXPECT_NE(app().rollout.reason.find("instance web-4 failed"), std::string::npos) << app().rollout.reason;
  EXPECT_EQ(states(), (std::map<std::string, std::string>{
                          {"web-2", "running"}, {"web-3", "running"}, {"web-4", "draining"}, {"web-5", "pending"}}))
      << "back to the old spec the same way: one more old instance, then the new ones go";
  reported.erase("web-4");
  reported["web-5"] = "running";
  agent();
  EXPECT_EQ(states(),
            (std::map<std::string, std::string>{{"web-2", "running"}, {"web-3", "draining"}, {"web-5", "running"}}));
  EXPECT_EQ(app().rollout.state, "rolled_back");
  EXPECT_EQ(app().spec.tag, "0.1.0");
}

TEST_F(RolloutTest, ScalingDuringARolloutScalesTheNewRevision) {
  deploy_running(2);
  ASSERT_TRUE(reg.deploy(rid(), {v2()}).ok);
  ASSERT_TRUE(reg.scale(rid(), {"web", 4}).ok);
  EXPECT_EQ(states(), (std::map<std::string, std::string>{{"web-1", "running"},
                                                          {"web-2", "running"},
                                                          {"web-3", "pending"},
                                                          {"web-4", "pending"},
                                                          {"web-5", "pending"}}))
      << "4 + max_surge 1 in all";
  ASSERT_TRUE(reg.scale(rid(), {"web", 1}).ok);
  EXPECT_EQ(states(),
            (std::map<std::string, std::string>{{"web-1", "draining"}, {"web-2", "running"}, {"web-3", "pending"}}))
      << "the newest new ones go, and one old one: one healthy instance is enough now";
}

TEST_F(RolloutTest, RedeployingThePreviousSpecMidRolloutKeepsItsInstances) {
  deploy_running(2);
  const int64_t v1 = app().revision;
  ASSERT_TRUE(reg.deploy(rid(), {v2()}).ok);
  agent();
  ASSERT_TRUE(reg.deploy(rid(), {demo("web", 2)}).ok);
  EXPECT_EQ(app().revision, v1);
  EXPECT_EQ(app().rollout.state, "done");
  EXPECT_EQ(states(),
            (std::map<std::string, std::string>{{"web-1", "running"}, {"web-2", "running"}, {"web-3", "draining"}}));
}

TEST_F(RolloutTest, RolloutStateSurvivesReopeningTheDatabase) {
  const auto path = std::filesystem::temp_directory_path() / ("pier-rollout-" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  {
    auto file = open_store(path.string());
    Registry first(*file, clock, Config{});
    ASSERT_TRUE(first.heartbeat(h1).ok());
    ASSERT_TRUE(first.deploy("a", {demo("web", 1)}).ok);
    ASSERT_TRUE(first.deploy("b", {v2(1)}).ok);
  }
  auto file = open_store(path.string());
  Registry again(*file, clock, Config{});
  const auto& record = again.state().apps.at(0);
  EXPECT_EQ(record.rollout.state, "rolling");
  ASSERT_EQ(record.revisions.size(), 1u) << "the spec a rollback returns to";
  EXPECT_EQ(record.revisions[0].revision, record.rollout.from_revision);
  EXPECT_EQ(record.revisions[0].spec.tag, "0.1.0");
  ASSERT_EQ(again.state().instances.size(), 1u) << "web-1 was never placed: it went at once";
  EXPECT_EQ(again.state().instances[0].id, "web-2");
  EXPECT_EQ(again.state().instances[0].revision, record.revision);
  std::filesystem::remove(path);
}

TEST_F(RegistryTest, StateSurvivesReopeningTheDatabase) {
  const auto path = std::filesystem::temp_directory_path() / ("pier-registry-" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  std::string before;
  {
    auto file_db = open_store(path.string());
    Registry first(*file_db, clock, Config{});
    ASSERT_TRUE(first.heartbeat(host("h1")).ok());
    ASSERT_TRUE(first.deploy("r1", {demo()}).ok);
    ASSERT_TRUE(first.place("r2", {0, {{"web-1", "h1"}}, {}}).ok);
    before = codec::encode(first.state());
  }
  auto file_db = open_store(path.string());
  Registry second(*file_db, clock, Config{});
  msg::State state = second.state();
  for (auto& h : state.hosts) h.last_seen_ms = 0;
  msg::State old = *codec::decode<msg::State>(before);
  for (auto& h : old.hosts) h.last_seen_ms = 0;
  EXPECT_EQ(codec::encode(state), codec::encode(old));
  // A command retried across the restart is still applied once.
  auto retried = second.deploy("r1", {demo("web", 7)});
  EXPECT_TRUE(retried.ok);
  EXPECT_EQ(second.state().instances.size(), 3u);
  std::filesystem::remove(path);
}

bus::Envelope envelope(std::string topic, std::string body, std::string sender = "cli-1", std::string id = "r") {
  bus::Envelope e;
  e.topic = std::move(topic);
  e.header.sender = std::move(sender);
  e.header.request_id = std::move(id);
  e.body = std::move(body);
  return e;
}

TEST_F(RegistryTest, DispatchRepliesToTheSender) {
  auto handled = dispatch(reg, envelope(std::string(topic::kDeploy), codec::encode(msg::DeployCommand{demo()})));
  ASSERT_TRUE(handled.rejected.ok());
  EXPECT_TRUE(handled.state_changed);
  ASSERT_EQ(handled.out.size(), 1u);
  EXPECT_EQ(handled.out[0].topic, "reply.cli-1");
  auto reply = codec::decode<msg::Reply>(handled.out[0].body);
  ASSERT_TRUE(reply.ok());
  EXPECT_TRUE(reply->ok);
  EXPECT_EQ(reply->request_id, "r");
}

TEST_F(RegistryTest, DispatchRejectsGarbageWithoutChangingState) {
  const std::string before = codec::encode(reg.state());
  for (const auto& bad : {std::string("\xc1"), std::string(""), codec::encode(std::vector<int>{1}),
                          codec::encode(std::map<std::string, int>{{"app", 5}, {"assignments", 7}})}) {
    for (auto t : {topic::kDeploy, topic::kScale, topic::kRemove, topic::kPlace}) {
      auto handled = dispatch(reg, envelope(std::string(t), bad));
      EXPECT_FALSE(handled.rejected.ok()) << t;
      // Counted as malformed, and still answered: the sender hears why instead of retrying in silence.
      ASSERT_EQ(handled.out.size(), 1u) << t;
      auto reply = codec::decode<msg::Reply>(handled.out[0].body);
      ASSERT_TRUE(reply.ok());
      EXPECT_FALSE(reply->ok) << t;
      EXPECT_FALSE(reply->field.empty()) << t;
    }
    EXPECT_FALSE(dispatch(reg, envelope("agent.heartbeat.h1", bad)).rejected.ok());
  }
  auto spoof = host("h2");
  EXPECT_FALSE(dispatch(reg, envelope("agent.heartbeat.h1", codec::encode(spoof))).rejected.ok());
  EXPECT_FALSE(dispatch(reg, envelope("cmd.unknown", codec::encode(msg::RemoveCommand{"x"}))).rejected.ok());
  EXPECT_EQ(codec::encode(reg.state()), before);
}

TEST_F(RegistryTest, DockerHostsGetSubnetsFromTheDockerNetwork) {
  msg::HostStatus docker_host = host("d1");
  docker_host.runtime = "docker";
  ASSERT_TRUE(reg.heartbeat(host("e1")).ok());
  ASSERT_TRUE(reg.heartbeat(docker_host).ok());
  ASSERT_EQ(reg.state().hosts.size(), 2u);
  for (const auto& h : reg.state().hosts)
    EXPECT_EQ(h.subnet, h.id == "e1" ? "127.112.0.0/24" : "10.240.1.0/24") << h.id;
}

TEST_F(RegistryTest, EachDefaultPoolHoldsAThousandHostsAndMore) {
  for (int i = 0; i < 1200; ++i) {
    msg::HostStatus h = host("h" + std::to_string(i));
    if (i % 3 == 1) h.runtime = "docker";
    if (i % 3 == 2) h.overlay = {"vxlan", "10.77.1.11", "0a:1b:2c:3d:4e:5f", 1, 4789, 1450, 7709};
    ASSERT_TRUE(reg.heartbeat(h).ok()) << h.host_id;
  }
  std::set<std::string> subnets;
  for (const auto& h : reg.state().hosts) subnets.insert(h.subnet);
  EXPECT_EQ(subnets.size(), 1200u);
  // Indexes are shared by the pools: the 1,200th host of the fleet sits at index 1,199 of its pool.
  const auto last = std::find_if(reg.state().hosts.begin(), reg.state().hosts.end(),
                                 [](const msg::HostRecord& h) { return h.id == "h1199"; });
  ASSERT_NE(last, reg.state().hosts.end());
  EXPECT_EQ(last->subnet, "10.228.175.0/24");
}

TEST_F(RegistryTest, AHostThePoolHasNoRoomForIsRefusedNamingTheFlagAndNothingChanges) {
  Config config;
  config.platform_network = "127.5.0.0/23";  // two /24s
  auto db = open_store();
  Registry small(*db, clock, config);
  ASSERT_TRUE(small.heartbeat(host("h1")).ok());
  ASSERT_TRUE(small.heartbeat(host("h2")).ok());
  const std::string before = codec::encode(small.state());
  auto third = small.heartbeat(host("h3"));
  ASSERT_FALSE(third.ok());
  EXPECT_NE(third.status().message().find("no subnet left for a new host: --platform-network 127.5.0.0/23 holds 2 "
                                          "subnets of /24"),
            std::string::npos)
      << third.status().message();
  EXPECT_EQ(codec::encode(small.state()), before);

  EXPECT_TRUE(small.refuse_host("h3", third.status())) << "a new refusal is worth publishing";
  clock.advance(1000);
  EXPECT_FALSE(small.refuse_host("h3", third.status())) << "the same again is not";
  ASSERT_EQ(small.state().refused_hosts.size(), 1u);
  const msg::RefusedHost& refused = small.state().refused_hosts[0];
  EXPECT_EQ(refused.host_id, "h3");
  EXPECT_EQ(refused.reason, third.status().message());
  EXPECT_EQ(refused.last_ms - refused.since_ms, 1000);
  EXPECT_EQ(small.state().revision, codec::decode<msg::State>(before)->revision) << "soft: no revision";

  // Quiet for host-down-after-ms: forgotten.
  clock.advance(config.host_down_after_ms);
  ASSERT_TRUE(small.tick(true).ok());
  EXPECT_TRUE(small.state().refused_hosts.empty());
}

TEST_F(RegistryTest, TheRefusedListIsBounded) {
  const Status why = Status::Invalid("address", "must be an IPv4 address");
  for (std::size_t i = 0; i < Registry::kMaxRefusedHosts; ++i)
    ASSERT_TRUE(reg.refuse_host("h" + std::to_string(i), why));
  EXPECT_FALSE(reg.refuse_host("one-too-many", why));
  EXPECT_EQ(reg.state().refused_hosts.size(), Registry::kMaxRefusedHosts);
}

TEST_F(RegistryTest, ARefusedHostThatIsAcceptedLeavesTheRefusedList) {
  ASSERT_TRUE(reg.refuse_host("h1", Status::Invalid("address", "must be an IPv4 address")));
  auto accepted = reg.heartbeat(host("h1"));
  ASSERT_TRUE(accepted.ok());
  EXPECT_TRUE(*accepted);
  EXPECT_TRUE(reg.state().refused_hosts.empty());
}

TEST_F(RegistryTest, ASubnetAnotherHostHoldsIsSkippedAfterThePoolChanged) {
  const auto path = std::filesystem::temp_directory_path() / ("pier-pool-" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  {
    Config before;
    before.platform_network = "127.100.4.0/22";
    auto db = open_store(path.string());
    Registry first(*db, clock, before);
    ASSERT_TRUE(first.heartbeat(host("old")).ok());
    EXPECT_EQ(first.state().hosts[0].subnet, "127.100.4.0/24");
  }
  Config after;
  after.platform_network = "127.100.0.0/21";  // holds the old pool: its index 4 is old's subnet
  auto db = open_store(path.string());
  Registry second(*db, clock, after);
  std::set<std::string> subnets;
  for (const char* id : {"n1", "n2", "n3", "n4", "n5"}) {
    ASSERT_TRUE(second.heartbeat(host(id)).ok());
  }
  for (const auto& h : second.state().hosts)
    if (h.id != "old") subnets.insert(h.subnet);
  EXPECT_EQ(subnets, (std::set<std::string>{"127.100.1.0/24", "127.100.2.0/24", "127.100.3.0/24", "127.100.5.0/24",
                                            "127.100.6.0/24"}));
  std::filesystem::remove(path);
}

TEST_F(RegistryTest, DeployRefusesCpuOrMemoryNoHostHas) {
  // With no host registered the app may wait for one.
  msg::AppSpec big = demo("big", 1);
  big.cpu = 64;
  EXPECT_TRUE(reg.deploy(rid(), {big}).ok);
  ASSERT_TRUE(reg.heartbeat(host("h1")).ok());  // 4 cpus, 8 GiB
  msg::AppSpec cpu_heavy = demo("cpuheavy", 1);
  cpu_heavy.ports = {{8081, 8000}};
  cpu_heavy.cpu = 4.5;
  auto reply = reg.deploy(rid(), {cpu_heavy});
  EXPECT_FALSE(reply.ok);
  EXPECT_EQ(reply.field, "cpu");
  msg::AppSpec memory_heavy = demo("memheavy", 1);
  memory_heavy.ports = {{8082, 8000}};
  memory_heavy.memory_bytes = 9LL << 30;
  reply = reg.deploy(rid(), {memory_heavy});
  EXPECT_FALSE(reply.ok);
  EXPECT_EQ(reply.field, "memory");
  EXPECT_EQ(count("cpuheavy") + count("memheavy"), 0);
}

TEST_F(RegistryTest, ScalingKeepsTheAppRevisionSoInstancesAreKept) {
  ASSERT_TRUE(reg.deploy(rid(), {demo("web", 2)}).ok);
  const int64_t revision = reg.state().apps[0].revision;
  ASSERT_TRUE(reg.scale(rid(), {"web", 5}).ok);
  EXPECT_EQ(reg.state().apps[0].revision, revision);
  ASSERT_TRUE(reg.deploy(rid(), {demo("web", 3)}).ok) << "same spec, other replica count";
  EXPECT_EQ(reg.state().apps[0].revision, revision);
  // Routing, health checks and the autoscale policy reach no instance either.
  msg::AppSpec routed = demo("web", 3);
  routed.context_path = "/web";
  routed.health_path = "/healthz";
  routed.autoscale.enabled = true;
  routed.autoscale.min = 1;
  routed.autoscale.max = 5;
  ASSERT_TRUE(reg.deploy(rid(), {routed}).ok);
  EXPECT_EQ(reg.state().apps[0].revision, revision);
  std::set<std::string> before;
  for (const auto& i : reg.state().instances) before.insert(i.id);
  EXPECT_EQ(before.size(), 3u);
  msg::AppSpec changed = routed;
  changed.env["FOO"] = "bar";
  ASSERT_TRUE(reg.deploy(rid(), {changed}).ok);
  EXPECT_GT(reg.state().apps[0].revision, revision);
  for (const auto& i : reg.state().instances) EXPECT_EQ(before.count(i.id), 0u) << i.id << " was kept";
}

// Host liveness: the registry's periodic check, driven by the clock the test moves.
class HostLivenessTest : public RegistryTest {
 protected:
  const msg::HostRecord& host_record(const std::string& id) {
    for (const auto& h : reg.state().hosts)
      if (h.id == id) return h;
    throw std::runtime_error("no host " + id);
  }
  const msg::InstanceRecord& instance(const std::string& id) {
    for (const auto& i : reg.state().instances)
      if (i.id == id) return i;
    throw std::runtime_error("no instance " + id);
  }
  bool check() {
    auto changed = reg.check_hosts();
    EXPECT_TRUE(changed.ok()) << changed.status().message();
    return changed.ok() && *changed;
  }
  // h1 up, web-1 and web-2 running on it; returns h1's heartbeat.
  msg::HostStatus one_host_two_running() {
    EXPECT_TRUE(reg.heartbeat(host("h1")).ok());
    EXPECT_TRUE(reg.deploy(rid(), {demo("web", 2)}).ok);
    EXPECT_TRUE(reg.place(rid(), {0, {{"web-1", "h1"}, {"web-2", "h1"}}, {}}).ok);
    auto h1 = host("h1");
    h1.instances = {running_status("web-1"), running_status("web-2")};
    EXPECT_TRUE(reg.heartbeat(h1).ok());
    return h1;
  }
  // h1 and h2 up, web-1/web-3 on h1 running, web-2 on h2 running.
  void two_hosts_three_instances() {
    ASSERT_TRUE(reg.heartbeat(host("h1")).ok());
    ASSERT_TRUE(reg.heartbeat(host("h2")).ok());
    ASSERT_TRUE(reg.deploy(rid(), {demo("web", 3)}).ok);
    ASSERT_TRUE(reg.place(rid(), {0, {{"web-1", "h1"}, {"web-2", "h2"}, {"web-3", "h1"}}, {}}).ok);
    auto h1 = host("h1");
    h1.instances = {{"web-1", "web", "running", "", 101, 0, 0, ""}, {"web-3", "web", "running", "", 103, 0, 0, ""}};
    ASSERT_TRUE(reg.heartbeat(h1).ok());
    auto h2 = host("h2");
    h2.instances = {{"web-2", "web", "running", "", 102, 0, 0, ""}};
    ASSERT_TRUE(reg.heartbeat(h2).ok());
  }
};

TEST_F(HostLivenessTest, HostIsSuspectAfterTheLimitAndNotBefore) {
  two_hosts_three_instances();
  const int64_t revision = reg.state().revision;
  for (int second = 0; second < 5; ++second) {  // h2 keeps heartbeating, h1 goes silent
    clock.advance(999);
    ASSERT_TRUE(reg.heartbeat(host("h2")).ok());
  }
  // h1 was last heard 4,995 ms ago: with the default 3,000 it is suspect; h2 stays up.
  EXPECT_TRUE(check());
  EXPECT_EQ(host_record("h1").status, "suspect");
  EXPECT_EQ(host_record("h2").status, "up");
  EXPECT_GT(reg.state().revision, revision);
  EXPECT_FALSE(check()) << "a suspect host is marked once";
}

TEST_F(HostLivenessTest, ExactlyAtTheLimit) {
  ASSERT_TRUE(reg.heartbeat(host("h1")).ok());
  clock.advance(2999);
  EXPECT_FALSE(check());
  EXPECT_EQ(host_record("h1").status, "up");
  clock.advance(1);
  EXPECT_TRUE(check());
  EXPECT_EQ(host_record("h1").status, "down") << "suspect, and down at once: it runs nothing to replace";
}

TEST_F(HostLivenessTest, HostsAreJudgedOnlyOnceTheWaitingHeartbeatsAreRead) {
  ASSERT_TRUE(reg.heartbeat(host("h1")).ok());
  clock.advance(10'000);
  auto behind = reg.tick(false);  // the registry itself fell behind: h1's heartbeats may be waiting
  ASSERT_TRUE(behind.ok());
  EXPECT_FALSE(*behind);
  EXPECT_EQ(host_record("h1").status, "up");
  auto caught_up = reg.tick(true);
  ASSERT_TRUE(caught_up.ok());
  EXPECT_TRUE(*caught_up);
  EXPECT_NE(host_record("h1").status, "up");
}

TEST_F(HostLivenessTest, ConfiguredLimit) {
  Config config;
  config.host_down_after_ms = 10'000;
  auto other_db = open_store(":memory:");
  Registry other(*other_db, clock, config);
  ASSERT_TRUE(other.heartbeat(host("h1")).ok());
  clock.advance(9'999);
  EXPECT_FALSE(*other.check_hosts());
  clock.advance(1);
  EXPECT_TRUE(*other.check_hosts());
  EXPECT_EQ(other.state().hosts[0].status, "down");
  config.host_down_after_ms = 0;
  EXPECT_THROW(Registry(*other_db, clock, config), std::invalid_argument);
}

TEST_F(HostLivenessTest, SuspectHostKeepsItsInstancesAndReplacementsComeFirstInTheSameRevision) {
  two_hosts_three_instances();
  const int64_t revision = reg.state().revision;
  const auto ip1 = instance("web-1").ip, ip3 = instance("web-3").ip;
  clock.advance(2000);
  ASSERT_TRUE(reg.heartbeat(host("h2")).ok());
  clock.advance(1000);
  ASSERT_TRUE(check());
  EXPECT_EQ(reg.state().revision, revision + 1) << "host suspect and replacements created in one change";
  EXPECT_EQ(host_record("h1").status, "suspect");
  for (const auto& [id, ip] : {std::pair{"web-1", ip1}, std::pair{"web-3", ip3}}) {
    const auto& i = instance(id);
    EXPECT_EQ(i.host, "h1") << id << " stays assigned";
    EXPECT_EQ(i.ip, ip) << id;
    EXPECT_EQ(i.state, "running") << id << " stays in every HAProxy: its checks judge it";
  }
  EXPECT_EQ(instance("web-2").state, "running");
  // Replacements, with new ids, wait for a place; the scheduler cannot use the suspect host.
  ASSERT_EQ(reg.state().instances.size(), 5u);
  for (const char* id : {"web-4", "web-5"}) {
    EXPECT_EQ(instance(id).host, "") << id;
    EXPECT_EQ(instance(id).state, "pending") << id;
  }
  EXPECT_FALSE(reg.place(rid(), {0, {{"web-4", "h1"}}, {}}).ok);
  ASSERT_TRUE(reg.place(rid(), {0, {{"web-4", "h2"}, {"web-5", "h2"}}, {}}).ok);
  EXPECT_EQ(instance("web-4").host, "h2");
  EXPECT_NE(instance("web-4").ip, instance("web-5").ip);
  EXPECT_EQ(instance("web-1").state, "running") << "placed is not running: nothing retired yet";
  EXPECT_EQ(instance("web-3").state, "running");
}

TEST_F(HostLivenessTest, SuspectHostsInstancesAreRetiredOnePerRunningReplacement) {
  two_hosts_three_instances();
  clock.advance(3000);
  ASSERT_TRUE(reg.heartbeat(host("h2")).ok());
  ASSERT_TRUE(check());
  ASSERT_TRUE(reg.place(rid(), {0, {{"web-4", "h2"}, {"web-5", "h2"}}, {}}).ok);
  auto h2 = host("h2");
  h2.instances = {running_status("web-2"), running_status("web-4"), {"web-5", "web", "starting", "", 0, 0, 0, ""}};
  ASSERT_TRUE(*reg.heartbeat(h2));
  // One replacement runs: one of h1's two goes (the newest), the other still serves.
  EXPECT_EQ(instance("web-3").state, "draining");
  EXPECT_EQ(instance("web-1").state, "running");
  EXPECT_EQ(host_record("h1").status, "suspect");
  h2.instances[2].state = "running";
  ASSERT_TRUE(*reg.heartbeat(h2));
  // Both run: h1 runs nothing wanted, it is down and its retired instances are forgotten.
  EXPECT_EQ(host_record("h1").status, "down");
  std::set<std::string> ids;
  for (const auto& i : reg.state().instances) ids.insert(i.id);
  EXPECT_EQ(ids, (std::set<std::string>{"web-2", "web-4", "web-5"}));
  EXPECT_EQ(count("web"), 3);
}

TEST_F(HostLivenessTest, NothingIsRetiredWithoutAPlaceToGo) {
  const auto h1 = one_host_two_running();
  const std::string before = codec::encode(reg.state().instances);
  clock.advance(60'000);
  ASSERT_TRUE(check());
  EXPECT_EQ(host_record("h1").status, "suspect");
  EXPECT_EQ(codec::encode(reg.state().instances), before) << "no replacement without an up host, nothing retired";
  auto ticked = reg.tick();
  ASSERT_TRUE(ticked.ok());
  EXPECT_FALSE(*ticked);
  // The host was only slow: back, it is up with everything it ran.
  ASSERT_TRUE(*reg.heartbeat(h1));
  EXPECT_EQ(host_record("h1").status, "up");
  EXPECT_EQ(codec::encode(reg.state().instances), before);
}

TEST_F(HostLivenessTest, ASuspectHostsDrainingInstancesGoOnlyWhenItIsDown) {
  const auto h1 = one_host_two_running();
  ASSERT_TRUE(reg.scale(rid(), {"web", 1}).ok);
  clock.advance(10'000);
  ASSERT_TRUE(*reg.check_hosts());
  // The only host: suspect, nothing elsewhere can take web-1, so nothing moves.
  ASSERT_EQ(reg.state().instances.size(), 2u);
  EXPECT_EQ(reg.state().hosts[0].status, "suspect");
  EXPECT_EQ(reg.state().instances[0].host, "h1");
  EXPECT_EQ(reg.state().instances[0].state, "running");
  EXPECT_EQ(reg.state().instances[1].state, "draining");
  // A second host takes web-1's replacement; once it runs, h1 has nothing wanted and is down, and its
  // draining instances (no one will report them) go with it.
  ASSERT_TRUE(reg.heartbeat(host("h2")).ok());
  ASSERT_EQ(reg.state().instances.size(), 3u);
  const std::string replacement = reg.state().instances[2].id;
  EXPECT_EQ(replacement, "web-3");
  ASSERT_TRUE(reg.place(rid(), {0, {{replacement, "h2"}}, {}}).ok);
  auto h2 = host("h2");
  h2.instances = {running_status(replacement)};
  ASSERT_TRUE(*reg.heartbeat(h2));
  EXPECT_EQ(reg.state().hosts[0].status, "down");
  ASSERT_EQ(reg.state().instances.size(), 1u);
  EXPECT_EQ(reg.state().instances[0].id, replacement);
}

TEST_F(HostLivenessTest, ReturningHostKeepsItsWantedInstancesAndSurplusReplacementsGo) {
  two_hosts_three_instances();
  clock.advance(3000);
  ASSERT_TRUE(reg.heartbeat(host("h2")).ok());
  ASSERT_TRUE(check());
  ASSERT_TRUE(reg.place(rid(), {0, {{"web-4", "h2"}}, {}}).ok);  // web-5 still waits for a place
  auto h2 = host("h2");
  h2.instances = {running_status("web-2"), running_status("web-4")};
  ASSERT_TRUE(*reg.heartbeat(h2));
  ASSERT_EQ(instance("web-3").state, "draining") << "web-4 stands in for it";
  // h1 comes back (it was slow, not dead), still reporting both, web-3 as running too.
  auto back = host("h1");
  back.instances = {running_status("web-1"), running_status("web-3")};
  ASSERT_TRUE(*reg.heartbeat(back));
  EXPECT_EQ(host_record("h1").status, "up");
  EXPECT_EQ(instance("web-1").state, "running") << "still wanted: kept";
  EXPECT_EQ(instance("web-3").state, "draining") << "a stale report does not bring back what was retired";
  // web-1, web-2, web-4, web-5: one too many; the one that serves nobody goes, nothing more.
  EXPECT_EQ(count("web"), 3);
  std::set<std::string> kept;
  for (const auto& i : reg.state().instances)
    if (i.state != "draining") kept.insert(i.id);
  EXPECT_EQ(kept, (std::set<std::string>{"web-1", "web-2", "web-4"}));
  const int64_t revision = reg.state().revision;
  ASSERT_FALSE(*reg.heartbeat(back)) << "the same report again changes nothing";
  EXPECT_EQ(reg.state().revision, revision);
  // Once h1 no longer reports web-3, it has stopped: the row goes and the level holds.
  back.instances = {running_status("web-1")};
  ASSERT_TRUE(*reg.heartbeat(back));
  EXPECT_THROW(instance("web-3"), std::runtime_error);
  EXPECT_EQ(count("web"), 3);
}

TEST_F(HostLivenessTest, AStaleDrainingReportChangesNothingAndLostInstancesAreReplaced) {
  two_hosts_three_instances();
  const std::string before = codec::encode(reg.state().instances);
  auto h1 = host("h1");
  h1.instances = {{"web-1", "web", "running", "", 101, 0, 0, ""}, {"web-3", "web", "draining", "", 103, 0, 0, ""}};
  auto changed = reg.heartbeat(h1);
  ASSERT_TRUE(changed.ok());
  EXPECT_FALSE(*changed) << "an agent that has not seen the newest state reports web-3 draining";
  EXPECT_EQ(codec::encode(reg.state().instances), before);
  // However an instance disappears (here from the store, under a registry that restarts), the registry
  // brings the app back to its count by itself, with a new id.
  store->db().exec("DELETE FROM instances WHERE id = 'web-2'");
  Registry restarted{*store, clock, Config{}};
  auto ticked = restarted.tick();
  ASSERT_TRUE(ticked.ok());
  EXPECT_TRUE(*ticked);
  int web = 0;
  for (const auto& i : restarted.state().instances) web += i.app == "web" && i.state != "draining";
  EXPECT_EQ(web, 3);
  EXPECT_EQ(restarted.state().instances.back().id, "web-4");
  EXPECT_EQ(restarted.state().instances.back().state, "pending");
  EXPECT_FALSE(*restarted.tick()) << "at its level: nothing more";
}

TEST_F(HostLivenessTest, InstanceIdsAreNeverReused) {
  std::set<std::string> seen;
  const auto collect = [&] {
    for (const auto& i : reg.state().instances) seen.insert(i.id);
  };
  two_hosts_three_instances();
  collect();
  clock.advance(3000);
  ASSERT_TRUE(reg.heartbeat(host("h2")).ok());
  ASSERT_TRUE(check());  // h1 suspect: web-4, web-5
  collect();
  ASSERT_TRUE(reg.place(rid(), {0, {{"web-4", "h2"}, {"web-5", "h2"}}, {}}).ok);
  auto h2 = host("h2");
  h2.instances = {running_status("web-2"), running_status("web-4"), running_status("web-5")};
  ASSERT_TRUE(*reg.heartbeat(h2));  // h1 down, web-1 and web-3 forgotten
  ASSERT_TRUE(reg.scale(rid(), {"web", 1}).ok);
  ASSERT_TRUE(reg.scale(rid(), {"web", 4}).ok);
  // Every id the registry hands out is new: none of the forgotten ones comes back.
  for (const auto& i : reg.state().instances) {
    if (seen.count(i.id) == 0) {
      EXPECT_GT(std::stoi(i.id.substr(4)), 5) << i.id;
    }
  }
  std::set<std::string> now;
  for (const auto& i : reg.state().instances) now.insert(i.id);
  EXPECT_EQ(now.count("web-1") + now.count("web-3"), 0u);
  EXPECT_EQ(count("web"), 4);
}

TEST_F(HostLivenessTest, HostsLoadedAtStartGetTheLimitFromTheStart) {
  const auto path = std::filesystem::temp_directory_path() / ("pier-liveness-" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  {
    auto file_db = open_store(path.string());
    Registry first(*file_db, clock, Config{});
    ASSERT_TRUE(first.heartbeat(host("h1")).ok());
  }
  clock.advance(60'000);  // the registry was away for a minute
  auto file_db = open_store(path.string());
  Registry second(*file_db, clock, Config{});
  clock.advance(2'999);
  EXPECT_FALSE(*second.check_hosts()) << "an agent gets the full limit to be heard after a registry restart";
  ASSERT_TRUE(second.heartbeat(host("h1")).ok());
  clock.advance(2'999);
  EXPECT_FALSE(*second.check_hosts());
  clock.advance(1);
  EXPECT_TRUE(*second.check_hosts());
  EXPECT_EQ(second.state().hosts[0].status, "down");
  std::filesystem::remove(path);
}

TEST_F(RegistryTest, HeartbeatOnlyFromTheAgentOfItsOwnHost) {
  const std::string before = codec::encode(reg.state());
  const std::string body = codec::encode(host("h1"));
  for (const std::string sender : {"agent/h2", "h1", "cli-1", "agent/", "registry"}) {
    auto handled = dispatch(reg, envelope("agent.heartbeat.h1", body, sender));
    ASSERT_FALSE(handled.rejected.ok()) << sender;
    EXPECT_EQ(handled.rejected.field(), "sender");
  }
  EXPECT_EQ(codec::encode(reg.state()), before);
  EXPECT_TRUE(dispatch(reg, envelope("agent.heartbeat.h1", body, "agent/h1")).rejected.ok());
  EXPECT_EQ(reg.state().hosts.size(), 1u);
}

}  // namespace
}  // namespace pier::registry
