// pier-bus: the XSUB/XPUB proxy every publisher and subscriber of pier connects to. It holds no state.
// With --curve-secret and --allow it admits only the allowlist's CURVE keys and forwards a message or
// makes a subscription only when the key's role may (docs/SECURITY.md).
#include <signal.h>

#include <cerrno>
#include <csignal>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>
#include <zmq.hpp>

#include "common/bus.h"
#include "common/files.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/options.h"
#include "common/stop_signal.h"
#include "services/bus/guard.h"
#include "services/bus/proxy_loop.h"
#include "services/bus/zap_handler.h"

namespace {

volatile std::sig_atomic_t g_hangup = 0;
void on_hangup(int) { g_hangup = 1; }

struct Sockets {
  zmq::socket_t xsub;
  zmq::socket_t xpub;
};

// Both sockets with their options, which must all be set before bind (high-water marks do not apply
// after, and a CURVE server without its ZAP domain would be asked about no domain).
Sockets make_sockets(zmq::context_t& context, const std::optional<pier::keys::KeyPair>& server) {
  using namespace pier;
  Sockets s{zmq::socket_t(context, zmq::socket_type::xsub), zmq::socket_t(context, zmq::socket_type::xpub)};
  for (auto* socket : {&s.xsub, &s.xpub}) {
    socket->set(zmq::sockopt::rcvhwm, bus::kHighWaterMark);
    socket->set(zmq::sockopt::sndhwm, bus::kHighWaterMark);
    socket->set(zmq::sockopt::linger, 0);
    bus::set_liveness(*socket);
    if (server) {
      socket->set(zmq::sockopt::curve_server, 1);
      socket->set(zmq::sockopt::curve_secretkey, server->secret_key);
    }
  }
  if (server) {
    s.xsub.set(zmq::sockopt::zap_domain, bus_proxy::kPublishersDomain);
    s.xpub.set(zmq::sockopt::zap_domain, bus_proxy::kSubscribersDomain);
    s.xpub.set(zmq::sockopt::xpub_manual, 1);
  }
  return s;
}

// Binds; after a revocation the old sockets' ports may take a moment to be released: retry for 2 s.
void bind_with_retry(zmq::socket_t& socket, const std::string& endpoint, bool retry) {
  for (int attempt = 0;; ++attempt) {
    try {
      socket.bind(endpoint);
      return;
    } catch (const zmq::error_t& e) {
      if (!retry || e.num() != EADDRINUSE || attempt >= 100) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace pier;
  namespace po = boost::program_options;
  bus::Endpoints bind;
  std::string endpoints_file;
  std::string level;
  std::string secret_file;
  std::string allow_file;
  int64_t stats_every_ms = 5000;
  bool insecure = false;
  po::options_description desc("pier-bus options");
  // clang-format off
  desc.add_options()
      ("publishers", po::value(&bind.pub)->default_value(bind.pub),
       "endpoint to bind for publishers (XSUB); tcp://127.0.0.1:* picks a free port")
      ("subscribers", po::value(&bind.sub)->default_value(bind.sub),
       "endpoint to bind for subscribers (XPUB); tcp://127.0.0.1:* picks a free port")
      ("endpoints-file", po::value(&endpoints_file),
       "write the bound endpoints here as PIER_BUS_PUB=... and PIER_BUS_SUB=... lines")
      ("curve-secret", po::value(&secret_file),
       "the bus's CURVE secret key file (mode 0600; pier keys new): both sockets become CURVE servers")
      ("allow", po::value(&allow_file),
       "the allowlist: '<z85 public key> <name> <role>' per line; SIGHUP reads it again")
      ("stats-every-ms", po::value(&stats_every_ms)->default_value(stats_every_ms),
       "with keys: publish bus.stats (per key: forwarded, refused) this often; 0: never")
      ("insecure-bus", po::bool_switch(&insecure),
       "bind a plaintext bus off loopback (anyone who reaches it can command the cluster)");
  // clang-format on
  bus_proxy::DropOptions drops;
  bool allow_faults = false;
  // clang-format off
  desc.add_options()
      ("allow-fault-injection", po::bool_switch(&allow_faults),
       "allow the --drop-* options (for tests only; refused without this)")
      ("drop-share", po::value(&drops.share)->default_value(drops.share),
       "drop this share (0..1) of messages, whole ones, chosen by a seeded generator")
      ("drop-seed", po::value(&drops.seed)->default_value(drops.seed), "seed of the drop choices")
      ("drop-for-ms", po::value(&drops.for_ms)->default_value(drops.for_ms),
       "drop only for this long after start (0: as long as the bus runs)");
  // clang-format on
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
  if (secret_file.empty() != allow_file.empty()) {
    std::cerr << "error: " << (secret_file.empty() ? "--allow: needs --curve-secret" : "--curve-secret: needs --allow")
              << " (a CURVE bus admits the allowlist's keys only)\n";
    return 2;
  }
  std::optional<keys::KeyPair> server;
  std::optional<keys::Allowlist> allowlist;
  if (!secret_file.empty()) {
    auto pair = keys::read_secret_file(secret_file);
    if (!pair.ok()) {
      std::cerr << "error: --curve-secret: " << pair.status().message() << "\n";
      return 2;
    }
    auto list = keys::Allowlist::read_file(allow_file);
    if (!list.ok()) {
      std::cerr << "error: --allow: " << list.status().message() << "\n";
      return 2;
    }
    server = *pair;
    allowlist = std::move(*list);
  } else if (!insecure && !(options::local_endpoint(bind.pub) && options::local_endpoint(bind.sub))) {
    std::cerr << "error: --publishers/--subscribers: " << bind.pub << " / " << bind.sub
              << " is not on loopback; a bus off this machine needs --curve-secret and --allow (or --insecure-bus)\n";
    return 2;
  }
  log::init("pier-bus", level);

  zmq::context_t context;
  std::optional<bus_proxy::KeyRing> ring;
  std::optional<bus_proxy::ZapHandler> zap;
  std::optional<bus_proxy::Guard> guard;
  if (server) {
    ring.emplace(std::move(*allowlist));
    zap.emplace(context, *ring);  // bound before the CURVE servers bind
    guard.emplace(*ring);
  }
  stop_signal::install();
  struct sigaction hangup {};
  hangup.sa_handler = on_hangup;
  ::sigemptyset(&hangup.sa_mask);
  ::sigaction(SIGHUP, &hangup, nullptr);

  SystemClock clock;
  std::optional<bus_proxy::MessageDropper> dropper;
  if (drops.share > 0) {
    dropper.emplace(drops, clock);
    spdlog::warn("fault injection on: dropping {} of messages (seed {}) {}", drops.share, drops.seed,
                 drops.for_ms > 0 ? "for " + std::to_string(drops.for_ms) + " ms" : std::string("until stopped"));
  }
  bus_proxy::ProxyParts parts;
  parts.dropper = dropper ? &*dropper : nullptr;
  parts.guard = guard ? &*guard : nullptr;
  parts.stats_every_ms = stats_every_ms;
  parts.revoked = [&]() {
    if (!g_hangup || !guard) return false;
    g_hangup = 0;
    bool revoked = false;
    if (Status s = guard->reload(allow_file, revoked); !s.ok()) {
      spdlog::error("allowlist not reloaded, the previous one stays: {}", s.message());
      return false;
    }
    spdlog::info(
        "allowlist reloaded from {}: {} keys{}", allow_file, ring->get()->keys().size(),
        revoked ? "; a key was revoked: closing every connection (clients reconnect and are judged again)" : "");
    return revoked;
  };

  bool first = true;
  for (;;) {
    Sockets sockets = make_sockets(context, server);
    try {
      bind_with_retry(sockets.xsub, bind.pub, !first);
      bind_with_retry(sockets.xpub, bind.sub, !first);
    } catch (const zmq::error_t& e) {
      spdlog::error("cannot bind {} / {}: {}", bind.pub, bind.sub, e.what());
      return 1;
    }
    if (first) {
      // A port picked by the system stays the bus's across rebinds.
      bind.pub = sockets.xsub.get(zmq::sockopt::last_endpoint);
      bind.sub = sockets.xpub.get(zmq::sockopt::last_endpoint);
      spdlog::info("bus up: publishers connect to {}, subscribers connect to {}{}", bind.pub, bind.sub,
                   server ? ", CURVE with " + std::to_string(ring->get()->keys().size()) + " allowed keys"
                          : std::string(", plaintext"));
      if (!endpoints_file.empty()) {
        const std::string text = "PIER_BUS_PUB=" + bind.pub + "\nPIER_BUS_SUB=" + bind.sub + "\n";
        if (Status s = files::write_atomically(endpoints_file, text); !s.ok()) spdlog::error("{}", s.message());
      }
      first = false;
    }
    bus_proxy::ProxyEnd end = bus_proxy::ProxyEnd::stopped;
    try {
      end = bus_proxy::run_proxy(sockets.xsub, sockets.xpub, parts, clock, [] { return stop_signal::requested(); });
    } catch (const zmq::error_t& e) {
      if (!stop_signal::requested()) spdlog::error("proxy stopped: {}", e.what());
    }
    if (end != bus_proxy::ProxyEnd::rebind) break;
  }
  spdlog::info("bus stopped");
  return 0;
}
