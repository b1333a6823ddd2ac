// Hollow hosts without sockets: what they publish when, over a clock the test moves.
#include "bench/hollow/hollow.h"

#include <gtest/gtest.h>

#include "common/codec.h"
#include "common/lb_fleet.h"
#include "common/lb_summary.h"
#include "common/topics.h"

namespace pier::hollow {
namespace {

class HollowTest : public ::testing::Test {
 protected:
  static Options options() {
    Options o;
    o.hosts = 4;
    o.heartbeat_ms = 1000;
    o.start_ms = 500;
    o.sample_ms = 0;
    return o;
  }
  // The heartbeats in `out` (of `only` when given), decoded.
  std::vector<msg::HostStatus> heartbeats(const std::vector<Outgoing>& out, const std::string& only = "") {
    std::vector<msg::HostStatus> beats;
    for (const auto& o : out) {
      if (o.topic.rfind(topic::kHeartbeatPrefix, 0) != 0) continue;
      if (!only.empty() && o.topic != topic::heartbeat(only)) continue;
      EXPECT_EQ(o.sender, "agent/" + o.topic.substr(topic::kHeartbeatPrefix.size()));
      auto status = codec::decode<msg::HostStatus>(o.body);
      EXPECT_TRUE(status.ok());
      if (status.ok()) beats.push_back(*status);
    }
    return beats;
  }
  // A state with `app` of `replicas` instances, all on hollow-0 in `state`, every hollow host registered.
  msg::State state(int replicas, const std::string& instance_state, int64_t revision) {
    msg::State s;
    s.revision = revision;
    for (int i = 0; i < 4; ++i) {
      s.hosts.emplace_back();
      s.hosts.back().id = "hollow-" + std::to_string(i);
    }
    msg::AppRecord app;
    app.spec.name = "web";
    app.spec.replicas = replicas;
    s.apps = {app};
    for (int i = 1; i <= replicas; ++i) {
      msg::InstanceRecord& r = s.instances.emplace_back();
      r.id = "web-" + std::to_string(i);
      r.app = "web";
      r.host = "hollow-0";
      r.ip = "127.112.0." + std::to_string(i + 1);
      r.state = instance_state;
    }
    return s;
  }
  // An LbConfig for `host` serving web-1 .. web-n.
  std::string config(const std::string& host, int n, const std::string& hash) {
    msg::LbConfig c;
    c.host_id = host;
    c.hash = hash;
    msg::LbBackend backend;
    backend.name = "app_web_8000";
    for (int i = 1; i <= n; ++i) backend.servers.push_back({"web-" + std::to_string(i), "127.112.0.2", 8000});
    c.spec.backends = {backend};
    return codec::encode(c);
  }

  ManualClock clock;
  HollowFleet fleet{options(), clock};
};

TEST_F(HollowTest, EachHostHeartbeatsOncePerPeriodPhasedAcrossThePeriod) {
  std::map<std::string, int> beats;
  std::map<std::string, int64_t> first_at;
  const int64_t start = clock.steady_ms();
  for (int step = 0; step < 300; ++step) {  // 3 s in 10 ms steps
    for (const auto& h : heartbeats(fleet.tick())) {
      ++beats[h.host_id];
      first_at.try_emplace(h.host_id, clock.steady_ms() - start);
    }
    clock.advance(10);
  }
  ASSERT_EQ(beats.size(), 4u);
  for (const auto& [id, n] : beats) EXPECT_EQ(n, 3) << id;
  EXPECT_EQ(first_at["hollow-0"], 0);
  EXPECT_EQ(first_at["hollow-1"], 250);
  EXPECT_EQ(first_at["hollow-3"], 750);
}

TEST_F(HollowTest, AnInstancePlacedHereStartsThenRunsAfterStartMsAndIsReportedAtOnce) {
  fleet.tick();  // the first heartbeats
  clock.advance(100);
  ASSERT_TRUE(fleet.handle(std::string(topic::kStateFull), codec::encode(state(2, "placed", 5))).ok());
  auto beats = heartbeats(fleet.tick());
  ASSERT_EQ(beats.size(), 1u) << "the change goes out at once, only from the host it concerns";
  EXPECT_EQ(beats[0].host_id, "hollow-0");
  ASSERT_EQ(beats[0].instances.size(), 2u);
  EXPECT_EQ(beats[0].instances[0].state, "starting");
  EXPECT_EQ(beats[0].instances[0].ip, "127.112.0.2");
  clock.advance(499);
  EXPECT_TRUE(heartbeats(fleet.tick(), "hollow-0").empty());
  clock.advance(1);
  beats = heartbeats(fleet.tick(), "hollow-0");
  ASSERT_EQ(beats.size(), 1u);
  EXPECT_EQ(beats[0].instances[1].state, "running");

  // Draining: gone from the next heartbeat.
  auto drained = state(2, "running", 6);
  drained.instances[1].state = "draining";
  clock.advance(100);
  ASSERT_TRUE(fleet.handle(std::string(topic::kStateFull), codec::encode(drained)).ok());
  beats = heartbeats(fleet.tick(), "hollow-0");
  ASSERT_EQ(beats.size(), 1u);
  ASSERT_EQ(beats[0].instances.size(), 1u);
  EXPECT_EQ(beats[0].instances[0].id, "web-1");
}

TEST_F(HollowTest, ConvergedOnceEveryAppRunsAndEveryHostServesExactlyTheRunningInstances) {
  ASSERT_TRUE(fleet.handle(std::string(topic::kStateFull), codec::encode(state(2, "running", 7))).ok());
  EXPECT_FALSE(fleet.figures().converged);
  for (int i = 0; i < 4; ++i) {
    const std::string host = "hollow-" + std::to_string(i);
    ASSERT_TRUE(fleet.handle(topic::lb_config(host), config(host, i == 3 ? 1 : 2, "h" + std::to_string(i))).ok());
  }
  EXPECT_EQ(fleet.figures().lb_current, 3);
  EXPECT_FALSE(fleet.figures().converged) << "hollow-3 serves web-1 only";
  ASSERT_TRUE(fleet.handle(topic::lb_config("hollow-3"), config("hollow-3", 2, "h3b")).ok());
  EXPECT_TRUE(fleet.figures().converged);
  EXPECT_EQ(fleet.figures().running, 2);

  ASSERT_TRUE(fleet.handle(std::string(topic::kStateFull), codec::encode(state(3, "running", 8))).ok());
  EXPECT_FALSE(fleet.figures().converged) << "a third instance runs that no HAProxy serves yet";
  // The LB status a heartbeat reports is the newest config's.
  clock.advance(1000);
  for (const auto& h : heartbeats(fleet.tick()))
    if (h.host_id == "hollow-3") {
      EXPECT_EQ(h.lb.hash, "h3b");
      ASSERT_EQ(h.lb.apps.size(), 1u) << "per app, as a real agent sends it";
      EXPECT_TRUE(h.lb.servers.empty());
      EXPECT_EQ(h.lb.apps[0].app, "web");
      EXPECT_EQ(h.lb.apps[0].listed, 2);
      EXPECT_EQ(h.lb.apps[0].up, 2);
      EXPECT_EQ(h.lb.apps[0].digest, lb::servers_digest({"web-2", "web-1"}));
    }
}

TEST_F(HollowTest, TheHostsAskForTheFleetsSpecAndServeWhatItListsAsRealAgentsDo) {
  const auto resyncs = [](const std::vector<Outgoing>& out) {
    int n = 0;
    for (const auto& o : out) n += o.topic.rfind(topic::kLbResyncPrefix, 0) == 0;
    return n;
  };
  EXPECT_EQ(resyncs(fleet.tick()), 1) << "no spec yet: asked for, once for the whole fleet";
  clock.advance(100);
  EXPECT_EQ(resyncs(fleet.tick()), 0);
  ASSERT_TRUE(fleet.handle(std::string(topic::kStateFull), codec::encode(state(2, "running", 7))).ok());

  msg::LbSpec spec;
  msg::LbBackend backend;
  backend.name = "app_web_8000";
  for (int i = 1; i <= 2; ++i) backend.servers.push_back({"web-" + std::to_string(i), "127.112.0.2", 8000});
  spec.backends = {backend};
  const lb::FleetSpec a = lb::fleet_of(spec, "t", 7);
  EXPECT_FALSE(fleet.handle(std::string(topic::kLbSpec), "\xc1").ok()) << "garbage is refused";
  ASSERT_TRUE(fleet.handle(std::string(topic::kLbSpec), codec::encode(lb::whole(a))).ok());
  EXPECT_TRUE(fleet.figures().converged) << "every host serves both running instances";
  EXPECT_EQ(fleet.figures().lb_specs, 1);
  ASSERT_TRUE(fleet.handle(topic::lb_config("hollow-1"), config("hollow-1", 1, "old")).ok());
  EXPECT_TRUE(fleet.figures().converged) << "holding the spec, a rendered config is ignored";
  clock.advance(1000);
  const auto beats = heartbeats(fleet.tick());
  ASSERT_EQ(beats.size(), 4u);
  for (const auto& h : beats) {
    EXPECT_TRUE(h.renders_lb);
    ASSERT_EQ(h.lb.apps.size(), 1u);
    EXPECT_EQ(h.lb.apps[0].listed, 2);
  }

  // A missed update: the next one does not apply, the fleet asks again.
  backend.servers.push_back({"web-3", "127.112.0.4", 8000});
  spec.backends = {backend};
  const lb::FleetSpec b = lb::fleet_of(spec, "t", 8);
  backend.servers.push_back({"web-4", "127.112.0.5", 8000});
  spec.backends = {backend};
  const lb::FleetSpec c = lb::fleet_of(spec, "t", 9);
  ASSERT_TRUE(fleet.handle(std::string(topic::kLbSpec), codec::encode(lb::delta(b, c))).ok());
  EXPECT_EQ(resyncs(fleet.tick()), 1);
}

TEST_F(HollowTest, ARefusalIsCountedUntilAStateListsTheHostAndGarbageChangesNothing) {
  msg::Reply refusal;
  refusal.message = "no subnet left for a new host";
  ASSERT_TRUE(fleet.handle(topic::reply_to("agent/hollow-2"), codec::encode(refusal)).ok());
  EXPECT_EQ(fleet.figures().refused, 1);
  EXPECT_FALSE(fleet.handle(std::string(topic::kStateFull), "\xc1").ok());
  EXPECT_FALSE(fleet.handle(topic::lb_config("hollow-1"), "\xc1").ok());
  EXPECT_EQ(fleet.figures().states, 0);
  EXPECT_EQ(fleet.figures().lb_configs, 0);
  ASSERT_TRUE(fleet.handle(std::string(topic::kStateFull), codec::encode(state(0, "running", 9))).ok());
  EXPECT_EQ(fleet.figures().refused, 0);
  EXPECT_EQ(fleet.figures().registered, 4);
}

// The servers a hollow HAProxy lists are compared with the running instances by this digest.
TEST(ServersDigest, DependsOnEveryNameAndWhereNamesEnd) {
  EXPECT_EQ(lb::servers_digest({"a", "b"}), lb::servers_digest({"a", "b"}));
  EXPECT_NE(lb::servers_digest({"a", "b"}), lb::servers_digest({"a"}));
  EXPECT_NE(lb::servers_digest({"ab"}), lb::servers_digest({"a", "b"}));
}

}  // namespace
}  // namespace pier::hollow
