// The bus over inproc transport: framing, sequence numbers, and garbage frames dropped and counted.
#include "common/bus.h"

#include <gtest/gtest.h>

#include <zmq_addon.hpp>

namespace pier {
namespace {

// Publishes through a real XSUB/XPUB pair until the subscriber sees a message or the deadline passes
// (PUB/SUB drops what is sent before the subscription has propagated).
template <typename Send>
std::optional<bus::Envelope> send_until_received(bus::Subscriber& sub, Send send) {
  for (int attempt = 0; attempt < 200; ++attempt) {
    send();
    if (auto env = sub.receive(10)) return env;
  }
  return std::nullopt;
}

struct Fixture : ::testing::Test {
  zmq::context_t ctx;
  zmq::socket_t sink{ctx, zmq::socket_type::sub};    // stands in for the proxy's XSUB side
  zmq::socket_t source{ctx, zmq::socket_type::pub};  // stands in for the proxy's XPUB side
  SystemClock clock;
  void SetUp() override {
    sink.set(zmq::sockopt::subscribe, "");
    sink.bind("inproc://pub");
    source.bind("inproc://sub");
  }
};

TEST_F(Fixture, PublisherWritesTopicHeaderBody) {
  bus::Publisher pub(ctx, "inproc://pub", "tester", clock);
  std::vector<zmq::message_t> frames;
  for (int attempt = 0; attempt < 200 && frames.empty(); ++attempt) {
    pub.publish(topic::kScale, msg::ScaleCommand{"web", 3}, "req-1");
    zmq::pollitem_t item{sink.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(10)) > 0) {
      auto ok = zmq::recv_multipart(sink, std::back_inserter(frames));
      ASSERT_TRUE(ok.has_value());
    }
  }
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0].to_string(), "cmd.scale");
  auto header = codec::decode<msg::Header>(frames[1].to_string_view());
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->sender, "tester");
  EXPECT_EQ(header->request_id, "req-1");
  EXPECT_EQ(header->schema, msg::kSchemaVersion);
  EXPECT_GE(header->seq, 1u);
  auto body = codec::decode<msg::ScaleCommand>(frames[2].to_string_view());
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(body->replicas, 3);
}

TEST_F(Fixture, SubscriberDropsGarbageAndKeepsGoing) {
  bus::Subscriber sub(ctx, "inproc://sub", {"x."});
  auto send = [&](std::vector<std::string> frames) {
    for (std::size_t i = 0; i < frames.size(); ++i)
      source.send(zmq::buffer(frames[i]), i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  };
  msg::Header header;
  header.sender = "good";
  header.seq = 1;
  const std::string good_header = codec::encode(header);
  // Wait until the subscription is live, using good messages.
  auto first = send_until_received(sub, [&] { send({"x.good", good_header, codec::encode(msg::RemoveCommand{"a"})}); });
  ASSERT_TRUE(first.has_value());
  const uint64_t dropped_before = sub.dropped();
  send({"x.bad"});                             // one frame
  send({"x.bad", "\xc1", "body"});             // header not msgpack
  send({"x.bad", good_header, "b", "extra"});  // four frames
  header.seq = 5;
  send({"x.good", codec::encode(header), codec::encode(msg::RemoveCommand{"b"})});
  std::optional<bus::Envelope> env;
  for (int i = 0; i < 100 && !env; ++i) env = sub.receive(10);
  ASSERT_TRUE(env.has_value());
  EXPECT_EQ(env->topic, "x.good");
  EXPECT_TRUE(env->gap);  // sequence jumped from 1.. to 5
  EXPECT_EQ(sub.dropped() - dropped_before, 3u);
  auto body = codec::decode<msg::RemoveCommand>(env->body);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(body->app, "b");
}

}  // namespace
}  // namespace pier
