#include "services/agent/lb_update.h"

#include <map>
#include <sstream>

#include "common/codec.h"

namespace pier::agent {
namespace {

msg::LbBackend without_servers(msg::LbBackend backend) {
  backend.servers.clear();
  return backend;
}

// Why `running` and `next` differ in something other than servers, or empty.
std::string structural_change(const msg::LbSpec& running, const msg::LbSpec& next) {
  msg::LbSpec a = running, b = next;
  a.frontends.clear();
  a.backends.clear();
  b.frontends.clear();
  b.backends.clear();
  if (codec::encode(a) != codec::encode(b)) return "host settings changed";
  if (codec::encode(running.frontends) != codec::encode(next.frontends)) return "frontends or routes changed";
  if (running.backends.size() != next.backends.size()) return "backends added or removed";
  for (std::size_t i = 0; i < running.backends.size(); ++i) {
    if (running.backends[i].name != next.backends[i].name) return "backends added or removed";
    if (codec::encode(without_servers(running.backends[i])) != codec::encode(without_servers(next.backends[i])))
      return "backend " + next.backends[i].name + " changed (mode, algorithm or health check)";
  }
  return {};
}

void add_server(std::vector<RuntimeCommand>& out, const msg::LbBackend& backend, const msg::LbServer& server) {
  const std::string target = backend.name + "/" + server.name;
  const std::string twin = target + msg::kFailOpenSuffix;
  const std::string address = server.address + ":" + std::to_string(server.port);
  // Servers read from a config file keep idle connections for reuse by default; `add server` does not
  // (HAProxy 2.6): without these, every request through a runtime-added server opened a new backend
  // connection (bench/data-plane: half the keep-alive throughput).
  const std::string options =
      std::string(" pool-max-conn -1 pool-purge-delay 5s") + (backend.proxy_protocol ? " send-proxy-v2" : "");
  const int fastinter = backend.check_fastinter_ms > 0 ? backend.check_fastinter_ms : backend.check_inter_ms;
  out.push_back({"add server " + target + " " + address + " check inter " + std::to_string(backend.check_inter_ms) +
                     " fastinter " + std::to_string(fastinter) + " downinter " + std::to_string(fastinter) + " rise " +
                     std::to_string(backend.check_rise) + " fall " + std::to_string(backend.check_fall) + options +
                     "; enable health " + target + "; enable server " + target + "; add server " + twin + " " +
                     address + " backup" + options + "; enable server " + twin,
                 {"New server registered", "New server registered"},
                 false});
}

void delete_server(std::vector<RuntimeCommand>& out, const msg::LbBackend& backend, const std::string& name) {
  for (const std::string& target : {backend.name + "/" + name, backend.name + "/" + name + msg::kFailOpenSuffix}) {
    out.push_back({"set server " + target + " state maint", {}, false});
    out.push_back({"del server " + target, {"Server deleted"}, true});
  }
}

bool is_server_line(std::string_view line) {
  const auto first = line.find_first_not_of(" \t");
  if (first == std::string_view::npos) return false;
  line.remove_prefix(first);
  return line.starts_with("server ") || line.starts_with("server\t");
}

std::vector<std::string_view> lines_outside_servers(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const auto end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    if (!is_server_line(line)) out.push_back(line);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return out;
}

}  // namespace

LbUpdate plan_lb_update(const msg::LbSpec& running, std::string_view running_text, const msg::LbSpec& next,
                        std::string_view next_text) {
  LbUpdate update;
  auto reload = [&](std::string why) {
    update.reload = true;
    update.reason = std::move(why);
    update.commands.clear();
    return update;
  };
  if (running.stats_socket.empty()) return reload("the running config has no stats socket");
  if (std::string why = structural_change(running, next); !why.empty()) return reload(why);
  if (!same_outside_servers(running_text, next_text)) return reload("the text changes more than server lines");
  for (std::size_t i = 0; i < next.backends.size(); ++i) {
    const msg::LbBackend& before = running.backends[i];
    const msg::LbBackend& after = next.backends[i];
    std::map<std::string, const msg::LbServer*> old_servers, new_servers;
    for (const auto& s : before.servers) old_servers[s.name] = &s;
    for (const auto& s : after.servers) new_servers[s.name] = &s;
    std::vector<RuntimeCommand> adds, moves, deletes;
    for (const auto& [name, server] : new_servers) {
      const auto old = old_servers.find(name);
      if (old == old_servers.end()) {
        add_server(adds, after, *server);
      } else if (old->second->address != server->address || old->second->port != server->port) {
        delete_server(moves, after, name);
        add_server(moves, after, *server);
      }
    }
    for (const auto& [name, server] : old_servers)
      if (!new_servers.count(name)) delete_server(deletes, after, name);
    for (auto* part : {&adds, &moves, &deletes})
      update.commands.insert(update.commands.end(), part->begin(), part->end());
  }
  if (update.commands.empty() && running_text != next_text)
    return reload("server lines change but no server does (their options, say)");
  return update;
}

bool same_outside_servers(std::string_view a, std::string_view b) {
  return lines_outside_servers(a) == lines_outside_servers(b);
}

std::vector<ServerState> parse_server_states(std::string_view answer) {
  std::vector<ServerState> out;
  std::istringstream lines{std::string(answer)};
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    // be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ...
    std::istringstream fields(line);
    std::string be_id, srv_id, address;
    ServerState state;
    if (!(fields >> be_id >> state.backend >> srv_id >> state.name >> address >> state.op_state >> state.admin_state))
      continue;
    out.push_back(std::move(state));
  }
  return out;
}

bool answer_ok(const RuntimeCommand& command, std::string_view answer) {
  std::size_t matched = 0;
  while (!answer.empty()) {
    const auto end = answer.find('\n');
    const std::string_view line = answer.substr(0, end);
    if (line.find_first_not_of(" \t\r") != std::string_view::npos) {
      if (matched == command.expect.size() || line.find(command.expect[matched]) == std::string_view::npos)
        return false;
      ++matched;
    }
    if (end == std::string_view::npos) break;
    answer.remove_prefix(end + 1);
  }
  return matched == command.expect.size();
}

}  // namespace pier::agent
