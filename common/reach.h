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

// For every running instance listed by some up host's HAProxy that reports servers_up but does not find
// it up, while another up host's HAProxy does: one Fault. Ordered by host, then instance.
std::vector<Fault> faults(const msg::State& state);

// "h1's HAProxy finds web-5 (on h3) down; h2 finds it up"
std::string describe(const Fault& fault);

}  // namespace pier::reach
