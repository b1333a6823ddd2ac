// pier-bus-bench: messages per second from one publisher to one subscriber through (1) pier-bus with
// CURVE and per-topic checks, (2) the same pier-bus plaintext, (3) a raw cppzmq proxy (zmq::proxy in
// this process), alternating, in one run. Messages are pier's own: [topic][header][body], the body a
// 200-byte string, the topic an agent heartbeat (allowed for the agent key, read by the registry key).
//   pier-bus-bench [ROUNDS] [MESSAGES] [MODE]   (defaults 3, 200000, all)
// MODE secured, plaintext or raw runs that one alone (to profile it: bench/bus/profile.sh).
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "common/bus.h"
#include "common/keys.h"
#include "common/process.h"
#include "tests/support/temp_dir.h"

namespace {

using namespace pier;
using Steady = std::chrono::steady_clock;

int free_port() {
  // Ports above the ephemeral range's usual start, picked per run; a clash fails the bind loudly.
  static int next = 20000 + (::getpid() % 20000);
  return next++;
}

struct Keys {
  testing::TempDir dir{"pier-bus-bench-"};
  keys::KeyPair bus, agent, registry;
};

Keys make_keys() {
  Keys k{.bus = *keys::generate(), .agent = *keys::generate(), .registry = *keys::generate()};
  keys::write_pair(k.dir.path(), "bus", "bus", k.bus);
  std::ofstream(k.dir.path() + "/allow") << k.agent.public_key << " web-1 agent\n"
                                         << k.registry.public_key << " registry registry\n";
  return k;
}

// Sends `count` messages as fast as the publisher's queue takes them; returns what the subscriber got
// per second (first to last message received) and how many arrived.
std::pair<double, int> measure(const bus::Endpoints& pub_end, const bus::Endpoints& sub_end, int count) {
  zmq::context_t context;
  SystemClock clock;
  bus::Subscriber sub(context, sub_end, {"agent.heartbeat."});
  bus::Publisher pub(context, pub_end, "agent/web-1", clock);
  const std::string body(200, 'x');
  // Until a probe gets through: the subscription has reached the publisher.
  for (int i = 0; i < 500; ++i) {
    pub.publish_encoded("agent.heartbeat.web-1", body, {});
    if (sub.receive(10)) break;
  }
  while (sub.receive(50)) {
  }
  std::thread sender([&] {
    for (int i = 0; i < count; ++i) pub.publish_encoded("agent.heartbeat.web-1", body, {});
  });
  int got = 0;
  Steady::time_point first, last;
  while (got < count) {
    auto e = sub.receive(1000);
    if (!e) break;
    if (got++ == 0) first = Steady::now();
    last = Steady::now();
  }
  sender.join();
  const double seconds = std::chrono::duration<double>(last - first).count();
  return {got > 1 ? (got - 1) / seconds : 0, got};
}

pid_t start_bus(const std::string& pub, const std::string& sub, const Keys* k) {
  process::SpawnOptions o;
  o.argv = {std::string(PIER_BIN_DIR) + "/pier-bus", "--publishers", pub, "--subscribers", sub, "--log-level", "warn"};
  if (k != nullptr)
    o.argv.insert(o.argv.end(), {"--curve-secret", k->dir.path() + "/bus.key", "--allow", k->dir.path() + "/allow"});
  o.output_path = "/dev/null";
  auto pid = process::spawn(o);
  if (!pid.ok()) throw std::runtime_error(pid.status().message());
  return *pid;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 3;
  const int count = argc > 2 ? std::atoi(argv[2]) : 200'000;
  const std::string only = argc > 3 ? argv[3] : "all";
  const char* modes[] = {"secured", "plaintext", "raw"};
  if (only != "all" && std::find(std::begin(modes), std::end(modes), only) == std::end(modes)) {
    std::fprintf(stderr, "pier-bus-bench: MODE must be all, secured, plaintext or raw, not %s\n", only.c_str());
    return 2;
  }
  const Keys k = make_keys();
  std::vector<double> secured, plaintext, raw;
  for (int r = 0; r < rounds; ++r) {
    for (int mode = 0; mode < 3; ++mode) {
      if (only != "all" && only != modes[mode]) continue;
      bus::Endpoints e{"tcp://127.0.0.1:" + std::to_string(free_port()),
                       "tcp://127.0.0.1:" + std::to_string(free_port()), std::nullopt};
      pid_t bus = 0;
      std::thread proxy;
      zmq::context_t proxy_context;
      std::optional<zmq::socket_t> xsub, xpub;
      bus::Endpoints pub_end = e, sub_end = e;
      if (mode < 2) {
        bus = start_bus(e.pub, e.sub, mode == 0 ? &k : nullptr);
        if (mode == 0) {
          pub_end.curve = bus::CurveKeys{k.agent.public_key, k.agent.secret_key, k.bus.public_key};
          sub_end.curve = bus::CurveKeys{k.registry.public_key, k.registry.secret_key, k.bus.public_key};
        }
      } else {
        xsub.emplace(proxy_context, zmq::socket_type::xsub);
        xpub.emplace(proxy_context, zmq::socket_type::xpub);
        for (auto* s : {&*xsub, &*xpub}) {
          s->set(zmq::sockopt::rcvhwm, bus::kHighWaterMark);
          s->set(zmq::sockopt::sndhwm, bus::kHighWaterMark);
        }
        xsub->bind(e.pub);
        xpub->bind(e.sub);
        proxy = std::thread([&] {
          try {
            zmq::proxy(*xsub, *xpub);
          } catch (const zmq::error_t&) {
          }
        });
      }
      const auto [rate, got] = measure(pub_end, sub_end, count);
      const char* name[] = {"pier-bus CURVE+checks", "pier-bus plaintext", "raw zmq::proxy"};
      std::printf("round %d  %-22s %9.0f msg/s  (%d of %d received)\n", r + 1, name[mode], rate, got, count);
      std::fflush(stdout);
      (mode == 0 ? secured : mode == 1 ? plaintext : raw).push_back(rate);
      if (bus > 0) process::stop(bus, 3000);
      if (proxy.joinable()) {
        proxy_context.shutdown();
        proxy.join();
        xsub.reset();
        xpub.reset();
      }
    }
  }
  if (only != "all") return 0;
  std::printf("median  secured %.0f  plaintext %.0f  raw %.0f msg/s;  secured/plaintext %.2f  plaintext/raw %.2f\n",
              median(secured), median(plaintext), median(raw), median(secured) / median(plaintext),
              median(plaintext) / median(raw));
  return 0;
}
