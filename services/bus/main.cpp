// pier-bus: the XSUB/XPUB proxy every publisher and subscriber of pier connects to. It holds no state.
#include <fstream>
#include <iostream>
#include <thread>
#include <zmq.hpp>

#include "common/bus.h"
#include "common/log.h"
#include "common/options.h"
#include "common/stop_signal.h"
#include "services/bus/lossy_proxy.h"

int main(int argc, char** argv) {
  using namespace pier;
  namespace po = boost::program_options;
  bus::Endpoints bind;
  std::string endpoints_file;
  std::string level;
  po::options_description desc("pier-bus options");
  desc.add_options()("publishers", po::value(&bind.pub)->default_value(bind.pub),
                     "endpoint to bind for publishers (XSUB); tcp://127.0.0.1:* picks a free port")(
      "subscribers", po::value(&bind.sub)->default_value(bind.sub),
      "endpoint to bind for subscribers (XPUB); tcp://127.0.0.1:* picks a free port")(
      "endpoints-file", po::value(&endpoints_file),
      "write the bound endpoints here as PIER_BUS_PUB=... and PIER_BUS_SUB=... lines");
  bus_proxy::DropOptions drops;
  bool allow_faults = false;
  desc.add_options()("allow-fault-injection", po::bool_switch(&allow_faults),
                     "allow the --drop-* options (for tests only; refused without this)")(
      "drop-share", po::value(&drops.share)->default_value(drops.share),
      "drop this share (0..1) of messages, whole ones, chosen by a seeded generator")(
      "drop-seed", po::value(&drops.seed)->default_value(drops.seed), "seed of the drop choices")(
      "drop-for-ms", po::value(&drops.for_ms)->default_value(drops.for_ms),
      "drop only for this long after start (0: as long as the bus runs)");
  options::add_log_level(desc, level);
  const auto vm = options::parse_or_exit(
      argc, argv, desc, "usage: pier-bus [options]\n\nForwards every message from publishers to subscribers.");
  for (const char* option : {"drop-share", "drop-seed", "drop-for-ms"}) {
    if (!vm[option].defaulted() && !allow_faults) {
      std::cerr << "error: " << option << ": fault injection is for tests; refused without --allow-fault-injection\n";
      return 2;
    }
  }
  if (Status s = bus_proxy::check(drops); !s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return 2;
  }
  log::init("pier-bus", level);

  zmq::context_t context;
  zmq::socket_t xsub(context, zmq::socket_type::xsub);
  zmq::socket_t xpub(context, zmq::socket_type::xpub);
  // High-water marks must be set before bind, or they do not apply and messages drop silently.
  xsub.set(zmq::sockopt::rcvhwm, bus::kHighWaterMark);
  xsub.set(zmq::sockopt::sndhwm, bus::kHighWaterMark);
  xpub.set(zmq::sockopt::sndhwm, bus::kHighWaterMark);
  xpub.set(zmq::sockopt::rcvhwm, bus::kHighWaterMark);
  xsub.set(zmq::sockopt::linger, 0);
  xpub.set(zmq::sockopt::linger, 0);
  bus::set_liveness(xsub);
  bus::set_liveness(xpub);
  try {
    xsub.bind(bind.pub);
    xpub.bind(bind.sub);
  } catch (const zmq::error_t& e) {
    spdlog::error("cannot bind {} / {}: {}", bind.pub, bind.sub, e.what());
    return 1;
  }
  const std::string pub = xsub.get(zmq::sockopt::last_endpoint);
  const std::string sub = xpub.get(zmq::sockopt::last_endpoint);
  spdlog::info("bus up: publishers connect to {}, subscribers connect to {}", pub, sub);
  if (!endpoints_file.empty()) {
    std::ofstream out(endpoints_file + ".tmp");
    out << "PIER_BUS_PUB=" << pub << "\nPIER_BUS_SUB=" << sub << "\n";
    out.close();
    std::rename((endpoints_file + ".tmp").c_str(), endpoints_file.c_str());
  }

  stop_signal::install();
  // The control socket lets the signal flag stop the steerable proxy from this thread's poll.
  zmq::socket_t control_in(context, zmq::socket_type::pair);
  zmq::socket_t control_out(context, zmq::socket_type::pair);
  control_in.bind("inproc://bus-control");
  control_out.connect("inproc://bus-control");
  std::thread stopper([&] {
    while (!stop_signal::requested()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    control_out.send(zmq::str_buffer("TERMINATE"), zmq::send_flags::none);
  });
  try {
    if (drops.share > 0) {
      SystemClock clock;
      bus_proxy::MessageDropper dropper(drops, clock);
      spdlog::warn("fault injection on: dropping {} of messages (seed {}) {}", drops.share, drops.seed,
                   drops.for_ms > 0 ? "for " + std::to_string(drops.for_ms) + " ms" : std::string("until stopped"));
      bus_proxy::run_lossy_proxy(xsub, xpub, dropper, clock, [] { return stop_signal::requested(); });
    } else {
      zmq::proxy_steerable(xsub, xpub, zmq::socket_ref(), control_in);
    }
  } catch (const zmq::error_t& e) {
    if (!stop_signal::requested()) spdlog::error("proxy stopped: {}", e.what());
  }
  stop_signal::request();
  stopper.join();
  spdlog::info("bus stopped");
  return 0;
}
