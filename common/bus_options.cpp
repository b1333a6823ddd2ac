// The bus's options (options.h): apart from options.cpp so that a program that parses options without a
// bus (the static demo app) links neither keys nor net.
#include <cstdlib>
#include <iostream>

#include "common/keys.h"
#include "common/net.h"
#include "common/options.h"

namespace pier::options {

namespace {

// What the bus options read, put together once all of them have been notified.
struct BusKeyOptions {
  int parts = 0;  // options whose notifier must run before the keys are put together
  int seen = 0;
  std::string secret_file;
  std::string server_key;
  bool insecure = false;
  PlaintextBus plaintext = PlaintextBus::allowed;
};

void finish_bus(bus::Endpoints& endpoints, const BusKeyOptions& o) {
  if (o.secret_file.empty() != o.server_key.empty())
    throw po::error(o.secret_file.empty() ? "--bus-public-key: needs --curve-secret (this client's secret key file)"
                                          : "--curve-secret: needs --bus-public-key (the bus's public key)");
  if (o.secret_file.empty()) {
    endpoints.curve.reset();
    if (o.plaintext == PlaintextBus::loopback_only && !o.insecure)
      for (const auto& endpoint : {endpoints.pub, endpoints.sub})
        if (!local_endpoint(endpoint))
          throw po::error("--bus-pub/--bus-sub: " + endpoint +
                          " is not on loopback; a bus off this machine needs --curve-secret and --bus-public-key "
                          "(or --insecure-bus to accept anyone on that network giving this host orders)");
    return;
  }
  auto pair = keys::read_secret_file(o.secret_file);
  if (!pair.ok()) throw po::error("--curve-secret: " + pair.status().message());
  auto server = keys::read_public_key(o.server_key);
  if (!server.ok()) throw po::error("--bus-public-key: " + server.status().message());
  endpoints.curve = bus::CurveKeys{pair->public_key, pair->secret_key, *server};
}

}  // namespace

bool local_endpoint(std::string_view endpoint) {
  if (endpoint.starts_with("ipc://") || endpoint.starts_with("inproc://")) return true;
  if (!endpoint.starts_with("tcp://")) return false;
  std::string_view host = endpoint.substr(6);
  if (const auto semicolon = host.find(';'); semicolon != std::string_view::npos) return false;  // a source address
  if (const auto colon = host.rfind(':'); colon != std::string_view::npos) host = host.substr(0, colon);
  if (host == "localhost") return true;
  auto address = net::parse_ipv4(host);
  return address.ok() && (*address >> 24) == 127;
}

void add_bus(po::options_description& desc, bus::Endpoints& endpoints, PlaintextBus plaintext) {
  auto keys = std::make_shared<BusKeyOptions>();
  keys->plaintext = plaintext;
  keys->parts = plaintext == PlaintextBus::loopback_only ? 3 : 2;
  auto done = [&endpoints, keys] {
    if (++keys->seen < keys->parts) return;
    keys->seen = 0;  // a description may be parsed again
    finish_bus(endpoints, *keys);
  };
  auto secret_file = [keys, done](const std::string& v) {
    keys->secret_file = v;
    done();
  };
  auto server_key = [keys, done](const std::string& v) {
    keys->server_key = v;
    done();
  };
  // clang-format off
  desc.add_options()
      ("bus-pub", po::value(&endpoints.pub)->default_value(endpoints.pub),
       "bus endpoint that publishers connect to (pier-bus XSUB side)")
      ("bus-sub", po::value(&endpoints.sub)->default_value(endpoints.sub),
       "bus endpoint that subscribers connect to (pier-bus XPUB side)")
      ("curve-secret", po::value<std::string>()->default_value("", "none")->notifier(secret_file),
       "this client's CURVE secret key file (mode 0600; pier keys new): speak CURVE to the bus")
      ("bus-public-key", po::value<std::string>()->default_value("", "none")->notifier(server_key),
       "the bus's CURVE public key (40 characters of Z85) or a file holding it");
  // clang-format on
  if (plaintext == PlaintextBus::loopback_only) {
    auto insecure = [keys, done](bool v) {
      keys->insecure = v;
      done();
    };
    desc.add_options()("insecure-bus", po::bool_switch()->notifier(insecure),
                       "accept a plaintext bus off loopback (anyone who reaches it can give this host orders)");
  }
}

}  // namespace pier::options
