// pier-hollow: many hollow hosts in one process on the real bus (bench/hollow/hollow.h), for scale
// tests and bench/scale. Prints one JSON line of figures every --report-ms; stops by itself after
// --duration-ms, or on SIGINT/SIGTERM.
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

#include "bench/hollow/hollow.h"
#include "common/bus.h"
#include "common/codec.h"
#include "common/log.h"
#include "common/options.h"
#include "common/stop_signal.h"
#include "common/topics.h"

namespace {

nlohmann::json to_json(const pier::hollow::Figures& f, int64_t time_ms, int64_t dropped) {
  return {{"time_ms", time_ms},
          {"hosts", f.hosts},
          {"registered", f.registered},
          {"refused", f.refused},
          {"states", f.states},
          {"state_revision", f.state_revision},
          {"state_bytes", f.state_bytes},
          {"state_full_bytes", f.state_full_bytes},
          {"state_deltas", f.state_deltas},
          {"state_delta_bytes", f.state_delta_bytes},
          {"lb_configs", f.lb_configs},
          {"lb_bytes", f.lb_bytes},
          {"lb_specs", f.lb_specs},
          {"lb_spec_bytes", f.lb_spec_bytes},
          {"heartbeats", f.heartbeats},
          {"heartbeat_bytes", f.heartbeat_bytes},
          {"instances", f.instances},
          {"running", f.running},
          {"lb_current", f.lb_current},
          {"converged", f.converged},
          {"dropped", dropped}};
}

}  // namespace

int main(int argc, char** argv) {
  using namespace pier;
  namespace po = boost::program_options;
  bus::Endpoints endpoints;
  std::string level;
  hollow::Options o;
  int64_t memory_mib = o.memory_bytes >> 20;
  int64_t report_ms = 1000;
  int64_t duration_ms = 600'000;
  po::options_description desc("pier-hollow options");
  // clang-format off
  desc.add_options()
      ("hosts", po::value(&o.hosts)->default_value(o.hosts), "hollow hosts to run (1-10000)")
      ("first", po::value(&o.first)->default_value(o.first), "number of the first host's id")
      ("prefix", po::value(&o.prefix)->default_value(o.prefix), "host ids are <prefix><n>")
      ("heartbeat-ms", po::value(&o.heartbeat_ms)->default_value(o.heartbeat_ms), "each host's heartbeat period")
      ("min-gap-ms", po::value(&o.min_gap_ms)->default_value(o.min_gap_ms),
       "a host sends a change at once, but not more often than this")
      ("start-ms", po::value(&o.start_ms)->default_value(o.start_ms),
       "an instance placed on a host runs this long after the host first sees it")
      ("sample-ms", po::value(&o.sample_ms)->default_value(o.sample_ms), "agent.sample period (0: none)")
      ("cpus", po::value(&o.cpus)->default_value(o.cpus), "each host's cores")
      ("memory-mib", po::value(&memory_mib)->default_value(memory_mib), "each host's memory")
      ("overlay", po::bool_switch(&o.overlay), "hosts claim a vxlan overlay (routed subnets)")
      ("report-ms", po::value(&report_ms)->default_value(report_ms), "print the figures this often")
      ("duration-ms", po::value(&duration_ms)->default_value(duration_ms), "stop after this long");
  // clang-format on
  options::add_bus(desc, endpoints);
  options::add_log_level(desc, level);
  options::parse_or_exit(argc, argv, desc,
                         "usage: pier-hollow [options]\n\nMany simulated pier-agents in one process, on the real bus.");
  log::init("pier-hollow", level);
  if (o.hosts < 1 || o.hosts > 10'000) {
    std::cerr << "error: hosts: must be between 1 and 10000\n";
    return 2;
  }
  for (const auto& [flag, value, least] : {std::tuple{"heartbeat-ms", o.heartbeat_ms, 1},
                                           {"report-ms", report_ms, 1},
                                           {"duration-ms", duration_ms, 1},
                                           {"start-ms", o.start_ms, 0},
                                           {"sample-ms", o.sample_ms, 0},
                                           {"min-gap-ms", o.min_gap_ms, 0},
                                           {"cpus", int64_t{o.cpus}, 1},
                                           {"memory-mib", memory_mib, 1}}) {
    if (value < least) {
      std::cerr << "error: " << flag << ": must be at least " << least << "\n";
      return 2;
    }
  }
  o.memory_bytes = memory_mib << 20;

  SystemClock clock;
  hollow::HollowFleet fleet(o, clock);
  zmq::context_t context;
  bus::Publisher publisher(context, endpoints, "hollow", clock);
  bus::Subscriber subscriber(
      context, endpoints,
      {std::string(topic::kStateFull), std::string(topic::kStateDelta), std::string(topic::kLbSpec),
       std::string(topic::kLbConfigPrefix), topic::reply_to("agent/")});
  stop_signal::install();
  std::map<std::string, uint64_t> seq;  // per host: each speaks as its own agent
  const int64_t start = clock.steady_ms();
  int64_t next_report = start + report_ms;
  bool converged = false;
  hollow::Figures figures = fleet.figures();
  while (!stop_signal::requested() && clock.steady_ms() - start < duration_ms) {
    for (int i = 0; i < 4096; ++i) {
      auto envelope = subscriber.receive(i == 0 ? 10 : 0);
      if (!envelope) break;
      if (Status s = fleet.handle(envelope->topic, envelope->body); !s.ok()) subscriber.reject(*envelope, s);
    }
    for (auto& out : fleet.tick()) {
      msg::Header header;
      header.sender = out.sender;
      header.seq = ++seq[out.sender];
      header.time_ms = clock.now_ms();
      publisher.publish_raw({out.topic, codec::encode(header), std::move(out.body)});
    }
    figures = fleet.figures();
    if (clock.steady_ms() >= next_report || figures.converged != converged) {
      std::cout << to_json(figures, clock.now_ms(), static_cast<int64_t>(subscriber.dropped())).dump() << std::endl;
      next_report = clock.steady_ms() + report_ms;
      converged = figures.converged;
    }
  }
  return 0;
}
