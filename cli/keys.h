// `pier keys` (make and list CURVE keys) and `pier hosts add|remove` (join a host to a CURVE bus, or
// revoke it): the files of docs/SECURITY.md, written so that a bad name or role changes nothing.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "cli/commands.h"
#include "common/keys.h"

namespace pier::cli {

// Makes `<dir>/<name>.key` and `.pub` (the folder too, mode 0700). Refuses an existing key.
Status make_key(const std::string& dir, const std::string& name, std::string_view what);
// Appends `key` to the allowlist at `path` (made, mode 0600, when missing); refuses a name or a key
// the list holds already, and a list that does not parse (naming its line).
Status allow_key(const std::string& path, const keys::AllowedKey& key);
// Removes the line of `name` from the allowlist at `path` (comments and other lines kept); refuses a
// name the list does not hold.
Status revoke_key(const std::string& path, const std::string& name);
// The one command a new host runs to join: writes its secret (mode 0600) and starts pier-agent with
// the bus's endpoints and public key.
std::string join_command(const std::string& name, const bus::Endpoints& endpoints, const std::string& bus_public_key,
                         const std::string& secret_key);
// pier dev's keys in `dir`: the bus's (bus.key), one per client in `clients` (name, role), each in
// `<dir>/allow`; keys and allowlist lines that exist are kept.
Status ensure_dev_keys(const std::string& dir, const std::vector<std::pair<std::string, keys::Role>>& clients);
// Sends SIGHUP to the pier-bus that reads `allow_path`: the pid in `pid_file` when it names a
// pier-bus, else the pier-bus whose command line has `--allow <allow_path>`. Returns its pid, 0: none.
pid_t signal_bus(const std::string& allow_path, const std::string& pid_file);

int run_keys(const std::vector<std::string>& args, const Io& io);
int run_hosts_add(const std::vector<std::string>& args, const Io& io);
int run_hosts_remove(const std::vector<std::string>& args, const Io& io);

}  // namespace pier::cli
