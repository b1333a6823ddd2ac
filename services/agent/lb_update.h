// How a running HAProxy moves from one config to the next: a pure decision, no I/O, made on both the
// specs and the haproxy.cfg texts. When the two differ only in the servers of their backends, the
// change goes through the Runtime API (dynamic servers, HAProxy >= 2.5) as a list of commands;
// anything else (a frontend, a backend, a mode, an algorithm, a check setting, the host's fields, any
// line of the text besides `server` lines) needs a reload.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/messages.h"

namespace pier::agent {

struct RuntimeCommand {
  std::string line;  // sent as is on the stats socket; commands joined by "; " run in one round trip
  // The answer's non-blank lines, one for each of these and in this order, must contain them: no
  // other line (commands that succeed silently print blank lines, refusals print a reason).
  std::vector<std::string> expect;
  bool retry_busy = false;  // `del server`: HAProxy refuses while connections are attached; retry
  bool operator==(const RuntimeCommand&) const = default;
};

struct LbUpdate {
  bool reload = false;
  std::string reason;                    // why a reload is needed (for the log)
  std::vector<RuntimeCommand> commands;  // when !reload, in order
};

// The commands that turn `running` (whose rendered text HAProxy runs: `running_text`) into `next`
// (rendered as `next_text`), or a reload (with the reason): when the running config has no stats
// socket, when the specs differ in more than servers, when the texts differ outside `server` lines (a
// new template, say), or when only server lines changed but no server did (a template's server
// options). Same servers and the same text: no command and no reload. Per backend, for a
// new server S (and its fail-open twin S_failopen, see msg::kFailOpenSuffix), in one line (one round
// trip on the socket, the commands run in order):
//   add server B/S ADDR:PORT check inter I rise R fall F   (dynamic servers ignore default-server)
//   enable health B/S
//   enable server B/S                                      (it leaves maintenance UP: it serves now)
//   add server B/S_failopen ADDR:PORT backup
//   enable server B/S_failopen
// for a server that goes (each of S and S_failopen, one command a line, so that a refused
// `del server` is sent again alone):
//   set server B/S state maint
//   del server B/S
// New servers are added before old ones are deleted; a server whose address or port changed is
// deleted and added again.
// A new server serves as soon as it leaves maintenance: HAProxy starts it UP with its checks running,
// exactly as it starts the servers of a freshly loaded config (a first failed check takes it out).
// That is safe because lbgen lists only `running` instances, and the agent reports an instance
// running only once the check HAProxy makes passed from the agent.
LbUpdate plan_lb_update(const msg::LbSpec& running, std::string_view running_text, const msg::LbSpec& next,
                        std::string_view next_text);

// A server as `show servers state` reports it.
struct ServerState {
  std::string backend;
  std::string name;
  int op_state = -1;     // srv_op_state: 0 stopped (down), 1 starting, 2 running (up), 3 stopping
  int admin_state = -1;  // srv_admin_state: 0 ready; any maintenance or drain flag otherwise
  // Whether HAProxy sends it new traffic: up and in no maintenance or drain.
  bool serving() const { return op_state == 2 && admin_state == 0; }
  bool operator==(const ServerState&) const = default;
};

// The servers in the answer to `show servers state [backend]` (the version line, the header and
// malformed lines are skipped).
std::vector<ServerState> parse_server_states(std::string_view answer);

// Whether two haproxy.cfg texts are the same once their `server` lines are left out: the guard that
// the rendered text (whatever the template) changed only where the spec's servers did.
bool same_outside_servers(std::string_view a, std::string_view b);

// Whether `answer` is the success answer of `command`.
bool answer_ok(const RuntimeCommand& command, std::string_view answer);

}  // namespace pier::agent
