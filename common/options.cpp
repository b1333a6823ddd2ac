#include "common/options.h"

#include <cstdlib>
#include <iostream>

#include "common/keys.h"
#include "common/net.h"
#include "common/version.h"

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
  desc.add_options()("bus-pub", po::value(&endpoints.pub)->default_value(endpoints.pub),
                     "bus endpoint that publishers connect to (pier-bus XSUB side)")(
      "bus-sub", po::value(&endpoints.sub)->default_value(endpoints.sub),
      "bus endpoint that subscribers connect to (pier-bus XPUB side)")(
      "curve-secret", po::value<std::string>()->default_value("", "none")->notifier([keys, done](const std::string& v) {
        keys->secret_file = v;
        done();
      }),
      "this client's CURVE secret key file (mode 0600; pier keys new): speak CURVE to the bus")(
      "bus-public-key",
      po::value<std::string>()->default_value("", "none")->notifier([keys, done](const std::string& v) {
        keys->server_key = v;
        done();
      }),
      "the bus's CURVE public key (40 characters of Z85) or a file holding it");
  if (plaintext == PlaintextBus::loopback_only)
    desc.add_options()("insecure-bus", po::bool_switch()->notifier([keys, done](bool v) {
      keys->insecure = v;
      done();
    }),
                       "accept a plaintext bus off loopback (anyone who reaches it can give this host orders)");
}

void add_log_level(po::options_description& desc, std::string& level) {
  desc.add_options()("log-level", po::value(&level)->default_value("info"), "trace | debug | info | warn | error");
}

std::string env_name(std::string_view option) {
  std::string name = "PIER_";
  for (char c : option) name.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return name;
}

po::variables_map parse_or_exit(int argc, char** argv, const po::options_description& desc, std::string_view usage,
                                const po::positional_options_description* positional) {
  po::options_description all = desc;
  all.add_options()("help,h", "show this help")("version", "show the version");
  po::variables_map vm;
  try {
    po::command_line_parser parser(argc, argv);
    parser.options(all);
    if (positional != nullptr) parser.positional(*positional);
    po::store(parser.run(), vm);
    po::store(po::parse_environment(all,
                                    [&all](const std::string& variable) -> std::string {
                                      if (variable.rfind("PIER_", 0) != 0) return {};
                                      for (const auto& opt : all.options()) {
                                        if (env_name(opt->long_name()) == variable && opt->long_name() != "help" &&
                                            opt->long_name() != "version")
                                          return opt->long_name();
                                      }
                                      return {};
                                    }),
              vm);
    if (vm.count("help")) {
      std::cout << usage << "\n\n" << all << "\nEvery option can also be set as PIER_<OPTION> in the environment.\n";
      std::exit(0);
    }
    if (vm.count("version")) {
      std::cout << kVersion << "\n";
      std::exit(0);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "error: " << e.what() << "\n(see --help)\n";
    std::exit(2);
  }
  return vm;
}

}  // namespace pier::options
