// pier-lbgen's loop over inproc sockets: snapshot requests, configs out, malformed states dropped and
// counted without stopping anything.
#include "services/lbgen/bus_loop.h"

#include <gtest/gtest.h>

#include <zmq_addon.hpp>

#include "common/codec.h"
#include "common/topics.h"
#include "services/lbgen/render.h"
#include "tests/services/lbgen/state_builder.h"

namespace pier::lbgen {
namespace {

using testing::app;
using testing::host;
using testing::instance;

msg::State good_state(int64_t revision) {
  msg::State state;
  state.revision = revision;
  state.hosts = {host("h1")};
  state.apps = {app("web", {{8080, 8000}})};
  state.instances = {instance("web-1", "web", "h1", "127.100.0.2")};
  return state;
}

struct BusLoopTest : ::testing::Test {
  zmq::context_t ctx;
  zmq::socket_t sink{ctx, zmq::socket_type::sub};    // stands in for the proxy's XSUB side
  zmq::socket_t source{ctx, zmq::socket_type::pub};  // stands in for the proxy's XPUB side
  ManualClock clock;
  uint64_t seq = 0;

  void SetUp() override {
    sink.set(zmq::sockopt::subscribe, "");
    sink.bind("inproc://lbgen-pub");
    source.bind("inproc://lbgen-sub");
  }

  void send(const std::vector<std::string>& frames) {
    for (std::size_t i = 0; i < frames.size(); ++i)
      source.send(zmq::buffer(frames[i]), i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
  std::string header() {
    msg::Header h;
    h.sender = "registry";
    h.seq = ++seq;
    return codec::encode(h);
  }
  // PUB drops what it sends before the sink's subscription reaches it: publish a throwaway message
  // (bounded) until the sink sees one, then forget what came.
  void wait_until_connected(bus::Publisher& publisher) {
    bool seen = false;
    for (int attempt = 0; attempt < 200 && !seen; ++attempt) {
      publisher.publish("test.warmup", msg::SnapshotRequest{"warmup"});
      zmq::pollitem_t item{sink.handle(), 0, ZMQ_POLLIN, 0};
      seen = zmq::poll(&item, 1, std::chrono::milliseconds(10)) > 0;
    }
    ASSERT_TRUE(seen);
    published();
  }
  // Sends a first state (bounded) until the loop has taken it, then forgets what that published.
  void warm_up(Generator& generator, BusLoop& loop, bus::Subscriber& subscriber) {
    for (int attempt = 0; attempt < 200 && !generator.has_state(); ++attempt) {
      send({std::string(topic::kStateFull), header(), codec::encode(good_state(1))});
      loop.step(subscriber, 10);
    }
    ASSERT_TRUE(generator.has_state());
    for (int i = 0; i < 5; ++i) loop.step(subscriber, 0);  // whatever the warm-up left queued
    published();
  }
  // Every message the loop published so far: (topic, body).
  std::vector<std::pair<std::string, std::string>> published() {
    std::vector<std::pair<std::string, std::string>> out;
    for (;;) {
      std::vector<zmq::message_t> frames;
      if (!zmq::recv_multipart(sink, std::back_inserter(frames), zmq::recv_flags::dontwait)) break;
      if (frames.size() == 3 && frames[0].to_string() != "test.warmup")
        out.emplace_back(frames[0].to_string(), frames[2].to_string());
    }
    return out;
  }
};

// The bodies of `out` published on `topic`.
std::vector<std::string> on(const std::vector<std::pair<std::string, std::string>>& out, std::string_view topic) {
  std::vector<std::string> bodies;
  for (const auto& [t, body] : out)
    if (t == topic) bodies.push_back(body);
  return bodies;
}

TEST_F(BusLoopTest, AsksForASnapshotUntilAStateComesThenPublishesConfigs) {
  Generator generator(default_template(), 2000);
  bus::Publisher publisher(ctx, "inproc://lbgen-pub", "lbgen", clock);
  bus::Subscriber subscriber(ctx, "inproc://lbgen-sub", {std::string(topic::kStateFull)});
  BusLoop loop(generator, publisher, clock);
  wait_until_connected(publisher);

  // Until the first state: snapshot requests, every 500 ms. Keep sending the state (bounded) until the
  // subscription has propagated and the loop has taken it.
  std::vector<std::pair<std::string, std::string>> out;
  for (int attempt = 0; attempt < 200 && !generator.has_state(); ++attempt) {
    send({std::string(topic::kStateFull), header(), codec::encode(good_state(5))});
    loop.step(subscriber, 10);
    clock.advance(kSnapshotRequestEveryMs);
    for (auto& m : published()) out.push_back(std::move(m));
  }
  ASSERT_TRUE(generator.has_state());
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.front().first, topic::kSnapshot);
  ASSERT_EQ(out.back().first, topic::lb_config("h1"));
  auto config = codec::decode<msg::LbConfig>(out.back().second);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->state_revision, 5);
  EXPECT_NE(config->haproxy_cfg.find("server web-1 127.100.0.2:8000 check"), std::string::npos);

  // A state arrived: no more snapshot requests.
  clock.advance(kSnapshotRequestEveryMs);
  loop.step(subscriber, 0);
  for (const auto& m : published()) EXPECT_NE(m.first, topic::kSnapshot);
}

TEST_F(BusLoopTest, MalformedStatesAreRejectedCountedAndChangeNothing) {
  Generator generator(default_template(), 2000);
  bus::Publisher publisher(ctx, "inproc://lbgen-pub", "lbgen", clock);
  bus::Subscriber subscriber(ctx, "inproc://lbgen-sub", {std::string(topic::kStateFull)});
  BusLoop loop(generator, publisher, clock);
  wait_until_connected(publisher);
  ASSERT_NO_FATAL_FAILURE(warm_up(generator, loop, subscriber));
  const uint64_t dropped = subscriber.dropped();

  const std::string full(topic::kStateFull);
  const std::string encoded = codec::encode(good_state(2));
  send({full, header(), "\xc1\xc1\xc1"});                          // not msgpack
  send({full, header(), codec::encode(std::string("a string"))});  // not a map
  send({full, header(), encoded.substr(0, encoded.size() / 2)});   // truncated
  send({full, header(), encoded + "x"});                           // trailing bytes
  std::map<std::string, std::string> wrong_types{{"revision", "ten"}, {"hosts", "none"}};
  send({full, header(), codec::encode(wrong_types)});  // wrong field types
  send({full, header()});                              // two frames
  send({full, "\x91", codec::encode(good_state(3))});  // header not a map
  for (int i = 0; i < 100 && subscriber.dropped() - dropped < 7; ++i) loop.step(subscriber, 10);
  EXPECT_EQ(subscriber.dropped() - dropped, 7u);
  EXPECT_TRUE(published().empty()) << "nothing published for a malformed state";

  // And the loop keeps working.
  msg::State next = good_state(4);
  next.instances.push_back(instance("web-2", "web", "h1", "127.100.0.3"));
  send({full, header(), codec::encode(next)});
  std::vector<std::pair<std::string, std::string>> out;
  for (int i = 0; i < 100 && out.empty(); ++i) {
    loop.step(subscriber, 10);
    out = published();
  }
  ASSERT_EQ(on(out, topic::lb_config("h1")).size(), 1u);
  EXPECT_EQ(on(out, topic::kLbSpec).size(), 1u);
  auto config = codec::decode<msg::LbConfig>(on(out, topic::lb_config("h1"))[0]);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->state_revision, 4);
  EXPECT_NE(config->haproxy_cfg.find("server web-2 127.100.0.3:8000 check"), std::string::npos);
}

TEST_F(BusLoopTest, OfTheStatesWaitingOnlyTheNewestIsRendered) {
  Generator generator(default_template(), 2000);
  bus::Publisher publisher(ctx, "inproc://lbgen-pub", "lbgen", clock);
  bus::Subscriber subscriber(ctx, "inproc://lbgen-sub", {std::string(topic::kStateFull)});
  BusLoop loop(generator, publisher, clock);
  wait_until_connected(publisher);
  ASSERT_NO_FATAL_FAILURE(warm_up(generator, loop, subscriber));

  // Three states, each with one more instance, wait before the loop turns.
  msg::State state = good_state(10);
  for (int n = 2; n <= 4; ++n) {
    state.revision = 8 + n;
    state.instances.push_back(instance("web-" + std::to_string(n), "web", "h1", "127.100.0." + std::to_string(n + 1)));
    send({std::string(topic::kStateFull), header(), codec::encode(state)});
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (int i = 0; i < 100 && out.empty(); ++i) {
    loop.step(subscriber, 10);
    out = published();
  }
  ASSERT_EQ(on(out, topic::lb_config("h1")).size(), 1u) << "one config, not one per state";
  ASSERT_EQ(on(out, topic::kLbSpec).size(), 1u) << "one spec update, not one per state";
  auto update = codec::decode<msg::LbSpecUpdate>(on(out, topic::kLbSpec)[0]);
  ASSERT_TRUE(update.ok());
  EXPECT_EQ(update->state_revision, 12);
  EXPECT_FALSE(update->base.empty()) << "a delta of the warm-up's spec";
  auto config = codec::decode<msg::LbConfig>(on(out, topic::lb_config("h1"))[0]);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->state_revision, 12);
  EXPECT_NE(config->haproxy_cfg.find("server web-4 127.100.0.5:8000 check"), std::string::npos);
}

TEST_F(BusLoopTest, AgentsAskingForTheWholeSpecGetOneWholeSpecBetweenThem) {
  Generator generator(default_template(), 2000);
  bus::Publisher publisher(ctx, "inproc://lbgen-pub", "lbgen", clock);
  bus::Subscriber subscriber(ctx, "inproc://lbgen-sub",
                             {std::string(topic::kStateFull), std::string(topic::kLbResyncPrefix)});
  BusLoop loop(generator, publisher, clock);
  wait_until_connected(publisher);
  ASSERT_NO_FATAL_FAILURE(warm_up(generator, loop, subscriber));
  clock.advance(kWholeSpecEveryMs);

  const uint64_t dropped = subscriber.dropped();
  send({topic::lb_resync("h9"), header(), "\xc1"});  // malformed: refused, counted
  for (int i = 0; i < 5; ++i)
    send({topic::lb_resync("h" + std::to_string(i)), header(),
          codec::encode(msg::LbSpecRequest{"h" + std::to_string(i), "", "start"})});
  std::vector<std::pair<std::string, std::string>> out;
  for (int i = 0; i < 100 && on(out, topic::kLbSpec).empty(); ++i) {
    loop.step(subscriber, 10);
    for (auto& m : published()) out.push_back(std::move(m));
  }
  for (int i = 0; i < 5; ++i) {
    loop.step(subscriber, 0);
    for (auto& m : published()) out.push_back(std::move(m));
  }
  ASSERT_EQ(on(out, topic::kLbSpec).size(), 1u) << "five agents asked: one whole spec answers them all";
  auto update = codec::decode<msg::LbSpecUpdate>(on(out, topic::kLbSpec)[0]);
  ASSERT_TRUE(update.ok());
  EXPECT_TRUE(update->base.empty());
  EXPECT_EQ(update->template_text, default_template());
  lb::FleetSpec agent;
  EXPECT_TRUE(lb::apply(agent, *update).ok());
  EXPECT_EQ(subscriber.dropped() - dropped, 1u);

  // Asked again at once: the next whole waits kWholeSpecEveryMs.
  send({topic::lb_resync("h1"), header(), codec::encode(msg::LbSpecRequest{"h1", agent.hash, "gap"})});
  out.clear();
  for (int i = 0; i < 20; ++i) {
    loop.step(subscriber, 5);
    for (auto& m : published()) out.push_back(std::move(m));
  }
  EXPECT_TRUE(on(out, topic::kLbSpec).empty());
  clock.advance(kWholeSpecEveryMs);
  loop.step(subscriber, 0);
  EXPECT_EQ(on(published(), topic::kLbSpec).size(), 1u);
}

}  // namespace
}  // namespace pier::lbgen
