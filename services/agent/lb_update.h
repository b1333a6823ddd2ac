// How a running HAProxy moves from one LbSpec to the next: a pure decision, no I/O. When the two
// specs differ only in the servers of their backends, the change goes through the Runtime API
// (dynamic servers, HAProxy >= 2.5) as a list of commands; anything else (a frontend, a backend, a
// mode, an algorithm, a check setting, the host's fields) needs a reload.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/messages.h"

namespace pier::agent {

struct RuntimeCommand {
  std::string line;         // sent as is on the stats socket
  std::string expect;       // the answer must contain this; empty: the answer must be blank
  bool retry_busy = false;  // `del server`: HAProxy refuses while connections are attached; retry
  bool operator==(const RuntimeCommand&) const = default;
};

struct LbUpdate {
  bool reload = false;
  std::string reason;                    // why a reload is needed (for the log)
  std::vector<RuntimeCommand> commands;  // when !reload, in order
};

// The commands that turn `running` into `next`, or a reload (with the reason). Per backend, for a
// new server S (and its fail-open twin S_failopen, see msg::kFailOpenSuffix):
//   add server B/S ADDR:PORT check inter I rise R fall F   (dynamic servers ignore default-server)
//   enable health B/S
//   enable server B/S; set server B/S health down          (it takes traffic once `rise` checks pass)
//   add server B/S_failopen ADDR:PORT backup
//   enable server B/S_failopen
// for a server that goes (each of S and S_failopen):
//   set server B/S state maint
//   del server B/S
// New servers are added before old ones are deleted; a server whose address or port changed is
// deleted and added again.
LbUpdate plan_lb_update(const msg::LbSpec& running, const msg::LbSpec& next);

// Whether two haproxy.cfg texts are the same once their `server` lines are left out: the guard that
// the rendered text (whatever the template) changed only where the spec's servers did.
bool same_outside_servers(std::string_view a, std::string_view b);

// Whether `answer` is the success answer of `command`.
bool answer_ok(const RuntimeCommand& command, std::string_view answer);

}  // namespace pier::agent
