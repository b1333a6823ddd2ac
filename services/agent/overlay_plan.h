// The overlay as a pure plan, as flannel's vxlan backend makes it: from the hosts of a State, the
// routes, neighbours and FDB entries that make every other host's subnet reachable from this one, and
// the difference between those and the entries this host has. No sockets: netlink.h applies the plan.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "common/messages.h"
#include "common/net.h"
#include "common/status.h"

namespace pier::agent {

// The rtnetlink protocol number (rtm_protocol) of the routes the agent makes: it owns those and no
// other. 77 is unassigned in the kernel's list and iproute2's rt_protos (zebra, bird, babel, bgp ...
// use 11-99 and 186-192 sparsely; 77 is in none of them).
inline constexpr int kRouteProtocol = 77;

struct OverlayConfig {
  std::string mode;      // vxlan | host-gw
  std::string host_id;   // this host's id in the State
  std::string underlay;  // this host's IPv4 address that peers send overlay traffic to
  std::string device = "pier-vxlan";
  int vni = 1;
  int port = 4789;
  int route_protocol = kRouteProtocol;
  int probe_port = 7709;
};

// A route in table main. vxlan: `dst via gateway dev <device> onlink`; host-gw: `dst via gateway`
// (the kernel finds the device from the gateway, which must be on a directly connected network).
struct OverlayRoute {
  net::Ipv4Net dst;
  uint32_t gateway = 0;
  bool onlink = false;
  auto operator<=>(const OverlayRoute& other) const {
    return std::tie(dst.base, dst.prefix, gateway, onlink) <=>
           std::tie(other.dst.base, other.dst.prefix, other.gateway, other.onlink);
  }
  bool operator==(const OverlayRoute& other) const { return (*this <=> other) == 0; }
};

// vxlan: a permanent ARP entry on the device, the peer's VTEP address -> the peer's VTEP MAC.
struct OverlayNeighbour {
  uint32_t ip = 0;
  std::string mac;  // lower case, "0a:1b:2c:3d:4e:5f"
  auto operator<=>(const OverlayNeighbour&) const = default;
};

// vxlan: a permanent FDB entry on the device (NTF_SELF), the peer's VTEP MAC -> its underlay address.
struct OverlayFdb {
  std::string mac;
  uint32_t dst = 0;
  auto operator<=>(const OverlayFdb&) const = default;
};

// A set of entries; each vector sorted (sort_entries) so that equal sets compare equal.
struct OverlayEntries {
  std::vector<OverlayRoute> routes;
  std::vector<OverlayNeighbour> neighbours;
  std::vector<OverlayFdb> fdb;
  bool operator==(const OverlayEntries&) const = default;
  bool empty() const { return routes.empty() && neighbours.empty() && fdb.empty(); }
};

void sort_entries(OverlayEntries* entries);
// One line per entry, in the words of `ip route` / `ip neigh` / `bridge fdb`.
std::string to_string(const OverlayRoute& route);
std::string to_string(const OverlayNeighbour& neighbour);
std::string to_string(const OverlayFdb& fdb);
std::string to_string(const OverlayEntries& entries);

// A peer host the plan writes nothing for, and why: the field of its HostRecord (as on the wire) and
// the rule it broke.
struct Refusal {
  std::string host;
  std::string field;  // "overlay.underlay", "subnet", "overlay.vtep_mac", "overlay.vni", ...
  std::string rule;
  auto operator<=>(const Refusal&) const = default;
};
std::string to_string(const Refusal& refusal);

// Whether this host's own overlay settings can work: mode vxlan|host-gw, underlay a unicast IPv4
// address, vni 1..16777215, port 1..65535, probe port 1..65535, a device name of 1-15 characters.
Status validate_overlay_config(const OverlayConfig& config);

// The entries that reach every peer: every host of the state but this one whose status is not "down".
// A peer is refused (into *refused, when not null; nothing is planned for it) when its overlay mode is
// not this host's, its underlay is not a unicast IPv4 address, its subnet is not a CIDR (prefix /8 to
// /30, outside 127.0.0.0/8) or overlaps this host's subnet or another peer's, and in vxlan mode when its
// VTEP MAC is malformed or another peer's, or its vni or port is not this host's. Two peers whose subnets
// overlap (or whose MACs are equal) are both refused: the plan cannot tell which one the registry meant,
// and a route to the wrong host is worse than none. Entries are sorted; refusals in host order.
OverlayEntries desired_entries(const OverlayConfig& config, const msg::State& state, std::vector<Refusal>* refused);

// What turns `have` into `want`. to_add: entries of want that are not in have as they are, new ones or
// ones whose attributes changed (a peer's MAC, its underlay), to be added or replaced in place (the key:
// a route's dst, a neighbour's ip, an FDB entry's mac). to_remove: entries of have whose key want has not.
struct OverlayDiff {
  OverlayEntries to_add;
  OverlayEntries to_remove;
  bool empty() const { return to_add.empty() && to_remove.empty(); }
};
OverlayDiff diff(const OverlayEntries& want, const OverlayEntries& have);

// The address a peer's VTEP has (vxlan: the route's gateway and the neighbour entry's ip): the network
// address of its subnet, as flannel uses. The probe address is the subnet's first host address.
inline uint32_t vtep_address(const net::Ipv4Net& subnet) { return subnet.base; }
inline uint32_t probe_address(const net::Ipv4Net& subnet) { return subnet.base + 1; }

}  // namespace pier::agent
