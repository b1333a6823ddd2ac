// pier-bus's own poll loop over inproc sockets: subscriptions flow upstream, messages arrive whole or
// not at all, and the dropper's count matches what went missing. Every wait is bounded.
#include "services/bus/proxy_loop.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <thread>
#include <zmq_addon.hpp>

namespace pier::bus_proxy {
namespace {

using namespace std::chrono_literals;

struct Received {
  int probes = 0;
  int messages = 0;
  int malformed = 0;
};

class LossyProxyTest : public ::testing::Test {
 protected:
  zmq::context_t context;
  zmq::socket_t xsub{context, zmq::socket_type::xsub};
  zmq::socket_t xpub{context, zmq::socket_type::xpub};
  zmq::socket_t pub{context, zmq::socket_type::pub};
  zmq::socket_t sub{context, zmq::socket_type::sub};
  std::atomic<bool> stop{false};
  std::thread proxy;

  void start(MessageDropper& dropper, const Clock& clock) {
    for (auto* s : {&xsub, &xpub, &pub, &sub}) {
      s->set(zmq::sockopt::sndhwm, 100'000);
      s->set(zmq::sockopt::rcvhwm, 100'000);
      s->set(zmq::sockopt::linger, 0);
    }
    xsub.bind("inproc://in");
    xpub.bind("inproc://out");
    pub.connect("inproc://in");
    sub.set(zmq::sockopt::subscribe, "t.");
    sub.connect("inproc://out");
    proxy = std::thread([&] {
      ProxyParts parts;
      parts.dropper = &dropper;
      run_proxy(xsub, xpub, parts, clock, [&] { return stop.load(); });
    });
  }
  void finish() {
    stop = true;
    if (proxy.joinable()) proxy.join();
  }
  ~LossyProxyTest() override { finish(); }

  void send(const std::string& kind, int n) {
    const std::string topic = "t." + kind, header = "h" + std::to_string(n), body = "b" + std::to_string(n);
    std::array<zmq::const_buffer, 3> frames = {zmq::buffer(topic), zmq::buffer(header), zmq::buffer(body)};
    ASSERT_TRUE(zmq::send_multipart(pub, frames));
  }
  // Reads until `quiet` passes without a message (or 10 s in all).
  void drain(Received& r, std::chrono::milliseconds quiet) {
    sub.set(zmq::sockopt::rcvtimeo, static_cast<int>(quiet.count()));
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      std::vector<zmq::message_t> frames;
      if (!zmq::recv_multipart(sub, std::back_inserter(frames))) return;
      const bool whole = frames.size() == 3 && frames[1].to_string().substr(1) == frames[2].to_string().substr(1);
      if (!whole)
        ++r.malformed;
      else if (frames[0].to_string() == "t.probe")
        ++r.probes;
      else
        ++r.messages;
    }
  }
  // Sends probes until one comes through: the subscription has reached the publisher.
  int connect_through(Received& r) {
    int sent = 0;
    for (; sent < 200 && r.probes == 0; ++sent) {
      send("probe", sent);
      drain(r, 50ms);
    }
    return sent;
  }
};

TEST_F(LossyProxyTest, ForwardsEverythingWithShareZero) {
  SystemClock clock;
  MessageDropper dropper({0, 1, 0}, clock);
  start(dropper, clock);
  Received r;
  const int probes = connect_through(r);
  ASSERT_EQ(r.probes, 1) << "subscriptions must flow upstream through the proxy";
  for (int i = 0; i < 1000; ++i) send("msg", i);
  drain(r, 300ms);
  finish();
  EXPECT_EQ(r.messages, 1000);
  EXPECT_EQ(r.malformed, 0);
  EXPECT_EQ(dropper.dropped(), 0u);
  // Probes sent before the subscription reached the publisher never reach the proxy.
  EXPECT_GE(dropper.seen(), 1001u);
  EXPECT_LE(dropper.seen(), static_cast<uint64_t>(probes + 1000));
}

TEST_F(LossyProxyTest, DropsWholeMessagesAndCountsThem) {
  SystemClock clock;
  MessageDropper dropper({0.5, 9, 0}, clock);
  start(dropper, clock);
  Received r;
  const int probes = connect_through(r);
  ASSERT_EQ(r.probes, 1);
  for (int i = 0; i < 2000; ++i) send("msg", i);
  drain(r, 300ms);
  finish();
  EXPECT_EQ(r.malformed, 0) << "never part of a message";
  EXPECT_NEAR(r.messages, 1000, 150);
  // Every message sent after the subscription arrived was either delivered or counted as dropped
  // (probes sent before it may have been discarded by the publisher, not by the dropper).
  EXPECT_EQ(dropper.seen() - dropper.dropped(), static_cast<uint64_t>(r.probes + r.messages));
  EXPECT_LE(dropper.seen(), static_cast<uint64_t>(probes + 2000));
}

}  // namespace
}  // namespace pier::bus_proxy
