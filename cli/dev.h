// `pier dev`: the whole stack on one machine, as supervised children of this process.
#pragma once

#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/bus.h"
#include "common/keys.h"

namespace pier::cli {

struct DevOptions {
  std::string state_dir;  // empty: default_state_dir()
  bus::Endpoints bus;     // endpoints pier-bus binds (and everyone connects to)
  std::string metrics_listen = "127.0.0.1:9100";
  int stats_port = 8404;
  bool demo = false;
  int demo_port = 8080;
  std::string log_level = "info";
  std::string platform_network = "127.100.0.0/16";  // the registry's pool of exec subnets
  std::string docker_network = "10.213.0.0/16";     // the registry's pool of docker subnets
  std::string runtime = "exec";                     // the agent's runtime: exec | docker
  std::string host_id;                              // empty: from the hostname
  // Off: keys in <state_dir>/keys (made on first start), a CURVE bus that admits them only. On: plaintext.
  bool insecure_bus = false;
  // Fault injection on the bus, for tests (pier-bus --allow-fault-injection --drop-*); 0: off.
  double bus_drop_share = 0;
  int64_t bus_drop_seed = 1;
  int64_t bus_drop_for_ms = 0;
};

struct ChildSpec {
  std::string name;               // bus, registry, scheduler, lbgen, metrics, agent
  std::vector<std::string> argv;  // argv[0]: the program beside `pier`, else its name (PATH)
};

// /var/lib/pier/dev as root; otherwise $XDG_STATE_HOME/pier/dev or ~/.local/state/pier/dev.
std::string default_state_dir(bool root, const char* xdg_state_home, const char* home);
// The host's name as a DNS label ("Build-01.example.com" -> "build-01"), or "local".
std::string host_id_from(const std::string& hostname);
// The children in start order (bus first, agent last), with their flags.
std::vector<ChildSpec> dev_children(const DevOptions& options, const std::string& bin_dir, const std::string& host_id);
// dev.env: PIER_BUS_PUB, PIER_BUS_SUB, PIER_METRICS_URL, PIER_STATS_URL, with keys PIER_CURVE_SECRET
// (the operator key), PIER_BUS_PUBLIC_KEY and PIER_KEYS_DIR, and once the demo is live PIER_DEMO_URL;
// one NAME=value per line.
std::string dev_env_text(const DevOptions& options, bool demo_live);
// Where pier dev keeps its keys: <state_dir>/keys.
std::string dev_keys_dir(const DevOptions& options);
// The keys pier dev makes: one per service (named after it), the agent's (named `host_id`), and the
// operator key for the CLI ("operator").
std::vector<std::pair<std::string, keys::Role>> dev_key_names(const std::string& host_id);
// The demo app `pier dev --demo` deploys.
msg::AppSpec demo_spec(int demo_port);

int run_dev(const std::vector<std::string>& args, const Io& io);

}  // namespace pier::cli
