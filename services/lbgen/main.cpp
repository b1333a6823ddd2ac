// pier-lbgen: turns the registry's state into the load balancer spec every host shares, published as
// changes on lb.spec (agents render their haproxy.cfg from it), and into a rendered haproxy.cfg on
// lb.config.<host> for agents that do not render their own. It keeps nothing durable: a restart rebuilds everything
// from the next state.
#include <iostream>

#include "common/bus.h"
#include "common/log.h"
#include "common/options.h"
#include "common/stop_signal.h"
#include "common/topics.h"
#include "services/lbgen/bus_loop.h"
#include "services/lbgen/generator.h"
#include "services/lbgen/render.h"

int main(int argc, char** argv) {
  using namespace pier;
  namespace po = boost::program_options;
  bus::Endpoints endpoints;
  std::string level, template_path;
  int republish_ms = 2000;
  po::options_description desc("pier-lbgen options");
  // clang-format off
  desc.add_options()
      ("template", po::value(&template_path), "mustache template for haproxy.cfg (default: the built-in one)")
      ("republish-ms", po::value(&republish_ms)->default_value(republish_ms),
       "publish the spec's hash and every rendered config again this often, changed or not");
  // clang-format on
  options::add_bus(desc, endpoints);
  options::add_log_level(desc, level);
  options::parse_or_exit(argc, argv, desc,
                         "usage: pier-lbgen [options]\n\nGenerates each host's HAProxy configuration from the state.");
  log::init("pier-lbgen", level);
  if (republish_ms < 100) {
    std::cerr << "error: --republish-ms must be at least 100\n";
    return 2;
  }

  auto template_text = lbgen::load_template(template_path);
  if (!template_text.ok()) {
    spdlog::error("{}", template_text.status().message());
    return 1;
  }

  SystemClock clock;
  zmq::context_t context;
  bus::Publisher publisher(context, endpoints, "lbgen", clock);
  bus::Subscriber subscriber(
      context, endpoints,
      {std::string(topic::kStateFull), std::string(topic::kStateDelta), std::string(topic::kLbResyncPrefix)});
  stop_signal::install();
  spdlog::info("lbgen up (template: {})", template_path.empty() ? "built-in" : template_path);

  lbgen::Generator generator(*template_text, republish_ms);
  lbgen::BusLoop loop(generator, publisher, clock);
  while (!stop_signal::requested()) loop.step(subscriber, 100);
  spdlog::info("lbgen stopped ({} malformed messages dropped)", subscriber.dropped());
  return 0;
}
