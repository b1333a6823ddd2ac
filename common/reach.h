// Which instances a host's HAProxy cannot reach while another host's can: an overlay fault (the route,
// VXLAN or firewall between two hosts), not a broken instance. A pure function of the State, for
// `pier ps`, `pier hosts` and the agent's log alike.
#pragma once

#include <string>
#include <vector>

#include "common/messages.h"

namespace pier::reach {

struct Fault {
  std::string host;                       // whose HAProxy finds the instance down
  std::string instance;                   // the instance
  std::string instance_host;              // where it runs
  std::vector<std::string> seen_up_from;  // hosts whose HAProxy finds it up
};

// For every running instance that some up host's HAProxy lists but does not find up (named among its
// LbApp's `down`), while another up host's HAProxy, listing the same servers of the app, does: one
// Fault. Ordered by host, then instance. With `judge`, only the faults that host's HAProxy sees (what
// its agent logs). At most lb::kMaxDownNamed instances per app and host are named, so judged.
std::vector<Fault> faults(const msg::State& state, const std::string& judge = "");

// "h1's HAProxy finds web-5 (on h3) down; h2 finds it up"
std::string describe(const Fault& fault);

// Whether two reports of peers say the same of each: same hosts in order, reachable or not, same error.
// The round-trip time is left out: another number of microseconds alone is no news (no heartbeat, no
// state change for it).
bool same_reachability(const std::vector<msg::PeerReach>& a, const std::vector<msg::PeerReach>& b);

}  // namespace pier::reach
