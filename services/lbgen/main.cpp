// pier-lbgen: turns the registry's state into one haproxy.cfg per host and publishes it on
// lb.config.<host>. It keeps nothing durable: a restart rebuilds everything from the next state.
#include <cerrno>
#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>

#include "common/bus.h"
#include "common/codec.h"
#include "common/log.h"
#include "common/options.h"
#include "common/topics.h"
#include "services/lbgen/generator.h"
#include "services/lbgen/render.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

// Subscriber::receive lets zmq's EINTR through when a signal lands during its poll: that is our cue
// to look at g_stop, not an error.
std::optional<pier::bus::Envelope> receive(pier::bus::Subscriber& subscriber, int timeout_ms) {
  try {
    return subscriber.receive(timeout_ms);
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) return std::nullopt;
    throw;
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace pier;
  namespace po = boost::program_options;
  bus::Endpoints endpoints;
  std::string level, template_path;
  int republish_ms = 2000;
  po::options_description desc("pier-lbgen options");
  desc.add_options()
      ("template", po::value(&template_path), "mustache template for haproxy.cfg (default: the built-in one)")
      ("republish-ms", po::value(&republish_ms)->default_value(republish_ms),
       "publish every host's latest config again this often, changed or not");
  options::add_bus(desc, endpoints);
  options::add_log_level(desc, level);
  options::parse_or_exit(argc, argv, desc,
                         "usage: pier-lbgen [options]\n\nGenerates each host's HAProxy configuration from the state.");
  log::init("pier-lbgen", level);
  if (republish_ms < 100) {
    std::cerr << "error: --republish-ms must be at least 100\n";
    return 2;
  }

  std::string template_text = lbgen::default_template();
  if (!template_path.empty()) {
    std::ifstream in(template_path);
    std::ostringstream text;
    if (!in || !(text << in.rdbuf())) {
      spdlog::error("cannot read template {}", template_path);
      return 1;
    }
    template_text = text.str();
  }
  if (Status s = lbgen::check_template(template_text); !s.ok()) {
    spdlog::error("template {} is unusable: {}", template_path.empty() ? "(built-in)" : template_path, s.message());
    return 1;
  }

  SystemClock clock;
  zmq::context_t context;
  bus::Publisher publisher(context, endpoints.pub, "lbgen", clock);
  bus::Subscriber subscriber(context, endpoints.sub, {std::string(topic::kStateFull)});
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  spdlog::info("lbgen up (template: {})", template_path.empty() ? "built-in" : template_path);

  lbgen::Generator generator(template_text, republish_ms);
  int64_t last_snapshot_request = 0;
  const auto publish = [&publisher](const std::vector<msg::LbConfig>& configs) {
    for (const auto& config : configs) publisher.publish(topic::lb_config(config.host_id), config);
  };
  while (!g_stop) {
    if (!generator.has_state() && clock.steady_ms() - last_snapshot_request >= 500) {
      publisher.publish(topic::kSnapshot, msg::SnapshotRequest{"start"});
      last_snapshot_request = clock.steady_ms();
    }
    publish(generator.due(clock.steady_ms()));
    auto envelope = receive(subscriber, 100);
    if (!envelope || envelope->topic != topic::kStateFull) continue;
    auto state = codec::decode<msg::State>(envelope->body);
    if (!state.ok()) {
      subscriber.reject(*envelope, state.status());
      continue;
    }
    publish(generator.on_state(*state, clock.steady_ms()));
  }
  spdlog::info("lbgen stopped ({} malformed messages dropped)", subscriber.dropped());
  return 0;
}
