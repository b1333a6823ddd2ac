#include "services/metrics/collector.h"

#include <gtest/gtest.h>

#include <cmath>

#include "common/codec.h"
#include "common/topics.h"
#include "services/metrics/prometheus_text.h"

namespace pier::metrics {
namespace {

msg::HostSample sample(const std::string& host) {
  msg::HostSample s;
  s.host_id = host;
  s.time_ms = 1;
  s.cpu_percent = 25;
  s.memory_used_bytes = 512;
  s.memory_total_bytes = 1024;
  s.load1 = 1.25;
  s.instances = {{"web-1", "web", 5.5, 4096}};
  return s;
}

bus::Envelope envelope(const std::string& topic, const std::string& body, const std::string& sender = "agent/h1") {
  bus::Envelope e;
  e.topic = topic;
  e.header.sender = sender;
  e.header.seq = 1;
  e.body = body;
  return e;
}

struct CollectorTest : ::testing::Test {
  ManualClock clock;
  std::unique_ptr<SampleStore> store = std::move(*SampleStore::open(":memory:"));
  LatestFigures figures{30'000};
  CollectorOptions options{60'000, 10'000};
  Collector collector{*store, figures, clock, options};
};

TEST_F(CollectorTest, StoresASampleAndShowsIt) {
  ASSERT_TRUE(collector.handle(envelope(topic::sample("h1"), codec::encode(sample("h1")))).ok());
  EXPECT_EQ(collector.counters().samples_stored, 1u);
  EXPECT_EQ(store->host_rows("h1", 0)->size(), 1u);
  EXPECT_EQ(store->instance_rows("web", 0)->size(), 1u);
  const Snapshot s = figures.snapshot(clock.steady_ms());
  ASSERT_EQ(s.hosts.count("h1"), 1u);
  EXPECT_DOUBLE_EQ(s.hosts.at("h1").cpu_percent, 25);
}

TEST_F(CollectorTest, TakesHostStatusAndAppsFromTheState) {
  msg::State state;
  state.revision = 7;
  state.hosts.resize(2);
  state.hosts[0].id = "h1";
  state.hosts[1].id = "h2";
  state.hosts[1].status = "down";
  state.apps.resize(1);
  state.apps[0].spec.name = "web";
  state.apps[0].spec.replicas = 3;
  state.instances = {{"web-1", "web", "h1", "127.100.0.2", "running", "", 0, 0, {}},
                     {"web-2", "web", "h1", "127.100.0.3", "starting", "", 0, 0, {}}};
  ASSERT_TRUE(collector.handle(envelope(std::string(topic::kStateFull), codec::encode(state), "registry")).ok());
  const Snapshot s = figures.snapshot(clock.steady_ms());
  EXPECT_TRUE(s.has_state);
  EXPECT_EQ(s.state_revision, 7);
  EXPECT_EQ(s.host_up, (std::map<std::string, bool>{{"h1", true}, {"h2", false}}));
  EXPECT_EQ(s.apps.at("web").replicas, 3);
  EXPECT_EQ(s.apps.at("web").running, 1);
}

TEST_F(CollectorTest, RejectsMalformedAndInvalidBodies) {
  const std::string t = topic::sample("h1");
  EXPECT_FALSE(collector.handle(envelope(t, "\xc1garbage")).ok());
  EXPECT_FALSE(collector.handle(envelope(t, codec::encode(std::string("not a map")))).ok());
  EXPECT_FALSE(
      collector.handle(envelope(std::string(topic::kStateFull), codec::encode(sample("h1")).substr(0, 5))).ok());
  EXPECT_FALSE(collector.handle(envelope(topic::sample("h2"), codec::encode(sample("h1")))).ok()) << "topic mismatch";
  auto bad = [&](auto change) {
    msg::HostSample s = sample("h1");
    change(s);
    return collector.handle(envelope(topic::sample(s.host_id), codec::encode(s)));
  };
  EXPECT_EQ(bad([](auto& s) { s.host_id = "H_1"; }).field(), "host_id");
  EXPECT_EQ(bad([](auto& s) { s.cpu_percent = std::nan(""); }).field(), "cpu_percent");
  EXPECT_EQ(bad([](auto& s) { s.load1 = -1; }).field(), "load1");
  EXPECT_EQ(bad([](auto& s) { s.memory_total_bytes = -1; }).field(), "memory_total_bytes");
  EXPECT_EQ(bad([](auto& s) { s.instances[0].id = "web 1\n"; }).field(), "instances[0].id");
  EXPECT_EQ(bad([](auto& s) { s.instances[0].rss_bytes = -5; }).field(), "instances[0].rss_bytes");
  EXPECT_EQ(bad([](auto& s) { s.instances[0].cpu_percent = INFINITY; }).field(), "instances[0].cpu_percent");
  const auto with_app = [](auto change) {
    return [change](msg::HostSample& s) {
      msg::AppRequestSample a;
      a.app = "web";
      a.servers = {{"web-1", 1, 1, 0}};
      s.apps = {a};
      change(s.apps[0]);
    };
  };
  EXPECT_EQ(bad(with_app([](auto& a) { a.app = "Web"; })).field(), "apps[0].app");
  EXPECT_EQ(bad(with_app([](auto& a) { a.requests_per_second = std::nan(""); })).field(),
            "apps[0].requests_per_second");
  EXPECT_EQ(bad(with_app([](auto& a) { a.p95_latency_ms = -1; })).field(), "apps[0].p95_latency_ms");
  EXPECT_EQ(bad(with_app([](auto& a) { a.avg_response_ms = INFINITY; })).field(), "apps[0].avg_response_ms");
  EXPECT_EQ(bad(with_app([](auto& a) { a.current_sessions = -1; })).field(), "apps[0].current_sessions");
  EXPECT_EQ(bad(with_app([](auto& a) { a.responses_5xx = -1; })).field(), "apps[0].responses_5xx");
  EXPECT_EQ(bad(with_app([](auto& a) { a.latency_samples = -1; })).field(), "apps[0].latency_samples");
  EXPECT_EQ(bad(with_app([](auto& a) { a.servers[0].instance = ""; })).field(), "apps[0].servers[0].instance");
  EXPECT_EQ(bad(with_app([](auto& a) { a.servers[0].requests_per_second = -0.5; })).field(),
            "apps[0].servers[0].requests_per_second");
  EXPECT_EQ(bad(with_app([](auto& a) { a.servers[0].current_sessions = -2; })).field(),
            "apps[0].servers[0].current_sessions");
  EXPECT_EQ(bad(with_app([](auto& a) { a.servers.resize(10'001, {"web-1", 0, 0, 0}); })).field(), "apps[0].servers");
  msg::HostSample valid = sample("h1");
  with_app([](auto&) {})(valid);
  EXPECT_TRUE(check_sample(topic::sample("h1"), valid).ok()) << "the same figures, unchanged, pass";
  EXPECT_EQ(collector.counters().samples_stored, 0u);
  EXPECT_EQ(store->host_rows("h1", 0)->size(), 0u);
  EXPECT_TRUE(figures.snapshot(clock.steady_ms()).hosts.empty());
  // Topics it does not know are ignored, not errors.
  EXPECT_TRUE(collector.handle(envelope("agent.heartbeat.h1", "whatever")).ok());
}

TEST_F(CollectorTest, PrunesPastTheRetentionOnSchedule) {
  ASSERT_TRUE(collector.handle(envelope(topic::sample("h1"), codec::encode(sample("h1")))).ok());
  collector.prune_if_due();  // first call prunes: nothing is old yet
  EXPECT_EQ(store->host_rows("h1", 0)->size(), 1u);
  clock.advance(60'001);  // the row is now past the retention
  ASSERT_TRUE(collector.handle(envelope(topic::sample("h1"), codec::encode(sample("h1")))).ok());
  collector.prune_if_due();
  EXPECT_EQ(store->host_rows("h1", 0)->size(), 1u) << "only the old row went";
  clock.advance(60'001);
  collector.prune_if_due();
  EXPECT_EQ(store->host_rows("h1", 0)->size(), 0u);
  EXPECT_EQ(store->instance_rows("web", 0)->size(), 0u);
}

TEST_F(CollectorTest, AStaleHostDropsOutOfTheFigures) {
  ASSERT_TRUE(collector.handle(envelope(topic::sample("h1"), codec::encode(sample("h1")))).ok());
  clock.advance(30'001);
  EXPECT_TRUE(figures.snapshot(clock.steady_ms()).hosts.empty());
}

// Through a real subscriber (inproc): garbage frames and bodies are dropped and counted, good
// messages keep flowing, and the counters reach the figures.
TEST_F(CollectorTest, StepCountsWhatTheBusDropsAndKeepsGoing) {
  zmq::context_t ctx;
  zmq::socket_t source{ctx, zmq::socket_type::pub};  // stands in for the proxy's XPUB side
  source.bind("inproc://metrics-sub");
  bus::Subscriber subscriber(ctx, "inproc://metrics-sub", subscriptions());
  uint64_t seq = 0;
  auto send = [&](const std::vector<std::string>& frames) {
    for (std::size_t i = 0; i < frames.size(); ++i)
      source.send(zmq::buffer(frames[i]), i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  };
  auto header = [&] {
    msg::Header h;
    h.sender = "agent/h1";
    h.seq = ++seq;
    return codec::encode(h);
  };
  // Wait (bounded) until the subscription is live, with good samples.
  for (int attempt = 0; attempt < 200 && collector.counters().samples_stored == 0; ++attempt) {
    send({topic::sample("h1"), header(), codec::encode(sample("h1"))});
    collector.step(subscriber, 10);
  }
  ASSERT_GT(collector.counters().samples_stored, 0u);
  for (int i = 0; i < 5; ++i) collector.step(subscriber, 0);  // anything still queued from the warm-up
  const uint64_t stored = collector.counters().samples_stored;
  const uint64_t dropped = subscriber.dropped();

  send({topic::sample("h1")});                                          // one frame
  send({topic::sample("h1"), "\xc1", "x"});                             // header not msgpack
  send({topic::sample("h1"), header(), "\xc1\xc1"});                    // body not msgpack
  send({std::string(topic::kStateFull), header(), codec::encode(42)});  // body not a map
  msg::HostSample negative = sample("h1");
  negative.memory_used_bytes = -1;
  send({topic::sample("h1"), header(), codec::encode(negative)});      // breaks a rule
  send({topic::sample("h1"), header(), codec::encode(sample("h1"))});  // good again
  for (int i = 0; i < 200 && collector.counters().samples_stored == stored; ++i) collector.step(subscriber, 10);

  EXPECT_EQ(collector.counters().samples_stored, stored + 1);
  EXPECT_EQ(subscriber.dropped() - dropped, 5u);
  const Snapshot s = figures.snapshot(clock.steady_ms());
  EXPECT_EQ(s.counters.messages_dropped, subscriber.dropped());
  EXPECT_EQ(s.counters.messages_received, subscriber.received());
  EXPECT_EQ(s.counters.samples_stored, stored + 1);
  const std::string text = format_prometheus(s);
  EXPECT_NE(text.find("pier_metrics_messages_dropped_total " + std::to_string(subscriber.dropped()) + "\n"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace pier::metrics
