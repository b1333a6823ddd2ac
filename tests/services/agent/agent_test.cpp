// The agent's bus thread without threads or sockets: what it hands the workers, and what it publishes
// when, from the values the workers left in the Handoff, over a clock the test moves.
#include "services/agent/agent.h"

#include <gtest/gtest.h>

#include "common/codec.h"
#include "common/lb_fleet.h"
#include "common/topics.h"
#include "tests/services/agent/envelope.h"

namespace pier::agent {
namespace {

using testing::envelope;

class AgentTest : public ::testing::Test {
 protected:
  AgentTest()
      : agent_(options(), HostFacts{"h1.example", 2, 1 << 30}, "exec", "/tmp/h1/haproxy.sock", handoff_, clock_) {}
  static AgentOptions options() {
    AgentOptions o;
    o.host_id = "h1";
    o.heartbeat_ms = 1000;
    return o;
  }
  // The topics of `out`, but for the agent's requests for the LB spec (their own test says when).
  std::vector<std::string> topics(const std::vector<Outgoing>& out) {
    std::vector<std::string> t;
    for (const auto& o : out)
      if (!o.topic.starts_with(topic::kLbResyncPrefix)) t.push_back(o.topic);
    return t;
  }
  // The requests for the whole LB spec in `out`, decoded.
  std::vector<msg::LbSpecRequest> resyncs(const std::vector<Outgoing>& out) {
    std::vector<msg::LbSpecRequest> r;
    for (const auto& o : out)
      if (o.topic == topic::lb_resync("h1")) r.push_back(*codec::decode<msg::LbSpecRequest>(o.body));
    return r;
  }
  // The heartbeats of `out`, decoded.
  std::vector<msg::HostStatus> heartbeats(const std::vector<Outgoing>& out) {
    std::vector<msg::HostStatus> h;
    for (const auto& o : out)
      if (o.topic == topic::heartbeat("h1")) h.push_back(*codec::decode<msg::HostStatus>(o.body));
    return h;
  }
  msg::InstanceStatus running(const std::string& id) {
    msg::InstanceStatus s;
    s.id = id;
    s.app = "web";
    s.state = "running";
    return s;
  }

  ManualClock clock_;
  Handoff handoff_;
  Agent agent_;
};

TEST_F(AgentTest, AsksForASnapshotEveryHalfSecondUntilAStateDecodesAndHandsItOn) {
  EXPECT_EQ(topics(agent_.tick()), (std::vector<std::string>{std::string(topic::kSnapshot), topic::heartbeat("h1")}));
  clock_.advance(499);
  EXPECT_TRUE(agent_.tick().empty());
  clock_.advance(1);
  EXPECT_EQ(topics(agent_.tick()), std::vector<std::string>{std::string(topic::kSnapshot)});

  EXPECT_FALSE(agent_.handle(envelope(std::string(topic::kStateFull), "\xc1 not msgpack")).ok());
  EXPECT_FALSE(agent_.has_state());
  EXPECT_FALSE(handoff_.state.take());

  msg::State state;
  state.revision = 7;
  ASSERT_TRUE(agent_.handle(envelope(std::string(topic::kStateFull), codec::encode(state))).ok());
  EXPECT_TRUE(agent_.has_state());
  clock_.advance(500);  // a period after the first heartbeat: one is due, no more snapshot requests
  EXPECT_EQ(topics(agent_.tick()), std::vector<std::string>{topic::heartbeat("h1")});
  auto handed = handoff_.state.take();
  ASSERT_TRUE(handed);
  EXPECT_EQ(handed->revision, 7);
}

TEST_F(AgentTest, TheNewestConfigForThisHostIsHandedOnAndOneForAnotherIsRefused) {
  msg::LbConfig config;
  config.host_id = "h2";
  config.hash = "other";
  EXPECT_FALSE(agent_.handle(envelope(topic::lb_config("h1"), codec::encode(config))).ok());
  EXPECT_FALSE(handoff_.lb_config.take());
  config.host_id = "h1";
  for (const char* hash : {"a", "b"}) {
    config.hash = hash;
    ASSERT_TRUE(agent_.handle(envelope(topic::lb_config("h1"), codec::encode(config))).ok());
  }
  auto handed = handoff_.lb_config.take();
  ASSERT_TRUE(handed);
  EXPECT_EQ(handed->config.hash, "b");  // latest wins
  EXPECT_TRUE(handed->template_text.empty()) << "rendered by lbgen: applied as it is";
  EXPECT_FALSE(handoff_.lb_config.take());
}

TEST_F(AgentTest, TheFleetsSpecIsHandedOnWithThisHostsFieldsAndAMissedUpdateAsksForTheWhole) {
  auto asked = resyncs(agent_.tick());
  ASSERT_EQ(asked.size(), 1u) << "no spec yet: ask for it";
  EXPECT_EQ(asked[0].reason, "start");
  EXPECT_EQ(asked[0].host_id, "h1");
  EXPECT_FALSE(agent_.host_status().lb.hash.size() > 0);
  EXPECT_TRUE(agent_.host_status().renders_lb);

  msg::LbSpec spec;
  spec.frontends = {{"fe_80", 80, "http", {{"/", "app_web_8000"}}}};
  spec.backends = {{"app_web_8000", "web", "http", "roundrobin", {{"web-1", "10.1.0.2", 8000}}}};
  const lb::FleetSpec a = lb::fleet_of(spec, "bind {{bind_address}}\n", 3);
  EXPECT_FALSE(agent_.handle(envelope(std::string(topic::kLbSpec), "\xc1")).ok()) << "garbage is rejected";
  ASSERT_TRUE(agent_.handle(envelope(std::string(topic::kLbSpec), codec::encode(lb::whole(a)))).ok());
  auto order = handoff_.lb_config.take();
  ASSERT_TRUE(order);
  EXPECT_EQ(order->template_text, "bind {{bind_address}}\n") << "the haproxy worker renders it";
  EXPECT_EQ(order->config.host_id, "h1");
  EXPECT_EQ(order->config.state_revision, 3);
  EXPECT_EQ(order->config.spec.bind_address, "127.0.0.1");
  EXPECT_EQ(order->config.spec.stats_socket, "/tmp/h1/haproxy.sock");
  EXPECT_EQ(order->config.spec.stats_port, 8404);
  ASSERT_EQ(order->config.spec.backends.size(), 1u);
  clock_.advance(500);
  EXPECT_TRUE(resyncs(agent_.tick()).empty()) << "it holds the spec";

  msg::LbConfig rendered;
  rendered.host_id = "h1";
  rendered.hash = "from-lbgen";
  ASSERT_TRUE(agent_.handle(envelope(topic::lb_config("h1"), codec::encode(rendered))).ok());
  EXPECT_FALSE(handoff_.lb_config.take()) << "holding the spec, it renders its own";
  ASSERT_TRUE(agent_.handle(envelope(std::string(topic::kLbSpec), codec::encode(lb::delta(a, a)))).ok());
  EXPECT_FALSE(handoff_.lb_config.take()) << "a beacon of what it holds changes nothing";

  spec.backends[0].servers.push_back({"web-2", "10.1.0.3", 8000});
  const lb::FleetSpec b = lb::fleet_of(spec, "bind {{bind_address}}\n", 4);
  spec.backends[0].servers.push_back({"web-3", "10.1.0.4", 8000});
  const lb::FleetSpec c = lb::fleet_of(spec, "bind {{bind_address}}\n", 5);
  ASSERT_TRUE(agent_.handle(envelope(std::string(topic::kLbSpec), codec::encode(lb::delta(b, c)))).ok())
      << "a missed update is no malformed message";
  EXPECT_FALSE(handoff_.lb_config.take());
  asked = resyncs(agent_.tick());
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].reason, "gap");
  EXPECT_EQ(asked[0].have, a.hash);
  clock_.advance(500);
  EXPECT_TRUE(resyncs(agent_.tick()).empty()) << "asked once; the next update that does not apply asks again";

  ASSERT_TRUE(agent_.handle(envelope(std::string(topic::kLbSpec), codec::encode(lb::whole(c)))).ok());
  order = handoff_.lb_config.take();
  ASSERT_TRUE(order);
  EXPECT_EQ(order->config.spec.backends[0].servers.size(), 3u);
  EXPECT_EQ(order->config.state_revision, 5);
}

TEST_F(AgentTest, KnowsWhyTheRegistryRefusesItUntilAStateListsThisHost) {
  msg::Reply refusal;
  refusal.message = "no subnet left for a new host: --platform-network 127.5.0.0/24 holds 1 subnets of /24";
  ASSERT_TRUE(agent_.handle(envelope(topic::reply_to("agent/h1"), codec::encode(refusal))).ok());
  EXPECT_EQ(agent_.refusal(), refusal.message);
  EXPECT_FALSE(agent_.handle(envelope(topic::reply_to("agent/h1"), "\xc1")).ok()) << "garbage is rejected";
  msg::Reply other;
  other.message = "another host's refusal";
  ASSERT_TRUE(agent_.handle(envelope(topic::reply_to("agent/h10"), codec::encode(other))).ok());
  EXPECT_EQ(agent_.refusal(), refusal.message) << "reply.agent/h1 is a prefix of h10's topic: not ours";

  msg::State state;
  state.revision = 3;
  state.hosts.resize(1);
  state.hosts[0].id = "h2";
  ASSERT_TRUE(agent_.handle(envelope(std::string(topic::kStateFull), codec::encode(state))).ok());
  EXPECT_EQ(agent_.refusal(), refusal.message) << "a state without this host";
  state.hosts[0].id = "h1";
  ASSERT_TRUE(agent_.handle(envelope(std::string(topic::kStateFull), codec::encode(state))).ok());
  EXPECT_TRUE(agent_.refusal().empty());
}

TEST_F(AgentTest, HeartbeatsCarryTheWorkersNewestValuesEveryPeriodAndAtOnceOnAChange) {
  InstancesView view;
  view.statuses = {running("web-1")};
  handoff_.instances.set(view, false);
  msg::LbStatus lb;
  lb.hash = "c1";
  lb.servers = {"web-1"};
  handoff_.lb.set(lb, false);

  auto first = heartbeats(agent_.tick());
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].host_id, "h1");
  EXPECT_EQ(first[0].hostname, "h1.example");
  EXPECT_EQ(first[0].runtime, "exec");
  EXPECT_EQ(first[0].haproxy_socket, "/tmp/h1/haproxy.sock");
  ASSERT_EQ(first[0].instances.size(), 1u);
  EXPECT_EQ(first[0].instances[0].id, "web-1");
  EXPECT_EQ(first[0].lb.hash, "c1");

  // A value that changed nothing worth telling waits for the period.
  view.statuses.push_back(running("web-2"));
  handoff_.instances.set(view, false);
  clock_.advance(10);
  EXPECT_TRUE(heartbeats(agent_.tick()).empty());

  // A change goes out at once, once.
  lb.hash = "c2";
  handoff_.lb.set(lb, true);
  clock_.advance(10);
  auto changed = heartbeats(agent_.tick());
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].lb.hash, "c2");
  EXPECT_EQ(changed[0].instances.size(), 2u);
  clock_.advance(10);
  EXPECT_TRUE(heartbeats(agent_.tick()).empty());

  handoff_.instances.set(view, true);
  EXPECT_EQ(heartbeats(agent_.tick()).size(), 1u);

  clock_.advance(999);
  EXPECT_TRUE(heartbeats(agent_.tick()).empty());
  clock_.advance(1);
  EXPECT_EQ(heartbeats(agent_.tick()).size(), 1u);
}

TEST_F(AgentTest, ASampleTheWorkerMadeIsPublishedOnce) {
  agent_.tick();
  msg::HostSample sample;
  sample.host_id = "h1";
  sample.load1 = 0.5;
  handoff_.sample.put(codec::encode(sample));
  auto out = agent_.tick();
  ASSERT_EQ(topics(out), std::vector<std::string>{topic::sample("h1")});
  EXPECT_EQ(codec::decode<msg::HostSample>(out[0].body)->load1, 0.5);
  EXPECT_TRUE(agent_.tick().empty());
}

TEST_F(AgentTest, KeepsTheLongestGapBetweenHeartbeats) {
  agent_.tick();
  clock_.advance(1000);
  agent_.tick();
  EXPECT_EQ(agent_.longest_heartbeat_gap_ms(), 1000);
  clock_.advance(2310);  // the loop was held up: the next one says how late it is
  EXPECT_EQ(heartbeats(agent_.tick()).size(), 1u);
  EXPECT_EQ(agent_.longest_heartbeat_gap_ms(), 2310);
  clock_.advance(1000);
  agent_.tick();
  EXPECT_EQ(agent_.longest_heartbeat_gap_ms(), 2310);
}

}  // namespace
}  // namespace pier::agent
