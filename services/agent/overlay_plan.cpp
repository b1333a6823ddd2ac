#include "services/agent/overlay_plan.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <sstream>

#include "common/validate.h"

namespace pier::agent {
namespace {

constexpr int kMaxVni = 16777215;           // 24 bits
constexpr std::size_t kMaxDeviceName = 15;  // IFNAMSIZ - 1

bool in(uint32_t address, uint32_t base, int prefix) { return net::Ipv4Net{base, prefix}.contains(address); }

// The rule a unicast IPv4 address breaks, or "" when it is one.
std::string unicast_ipv4_rule(const std::string& text, uint32_t* out) {
  auto address = net::parse_ipv4(text);
  if (!address.ok()) return "must be an IPv4 address, not '" + text + "'";
  if (*address == 0) return "must not be 0.0.0.0";
  if (in(*address, 0x7f000000, 8)) return "must not be a loopback address (127.0.0.0/8)";
  if (in(*address, 0xe0000000, 4)) return "must not be a multicast address (224.0.0.0/4)";
  if (in(*address, 0xf0000000, 4)) return "must not be a reserved or broadcast address (240.0.0.0/4)";
  if (out != nullptr) *out = *address;
  return "";
}

// The rule a peer's subnet breaks on its own (overlaps aside), or "" when it is usable.
std::string subnet_rule(const std::string& text, net::Ipv4Net* out) {
  auto subnet = net::parse_cidr(text);
  if (!subnet.ok()) return "must be a CIDR a.b.c.d/n: " + subnet.status().message();
  // /0 would be a default route through the peer; /31 and /32 have no room for the probe address.
  if (subnet->prefix < 8 || subnet->prefix > 30) return "prefix must be between /8 and /30";
  if (in(subnet->base, 0x7f000000, 8)) return "must not be in 127.0.0.0/8 (loopback)";
  if (in(subnet->base, 0xe0000000, 3)) return "must not be in 224.0.0.0/3 (multicast and reserved)";
  if (out != nullptr) *out = *subnet;
  return "";
}

bool overlap(const net::Ipv4Net& a, const net::Ipv4Net& b) { return a.contains(b.base) || b.contains(a.base); }

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// A peer as the plan sees it while checking it.
struct Peer {
  const msg::HostRecord* record = nullptr;
  std::optional<net::Ipv4Net> subnet;  // when usable on its own (it then takes part in overlap checks)
  uint32_t underlay = 0;
  std::string mac;  // lower case, when well-formed
  std::vector<Refusal> refusals;
  void refuse(std::string field, std::string rule) {
    refusals.push_back({record->id, std::move(field), std::move(rule)});
  }
};

template <typename T, typename Key>
std::map<Key, const T*> by_key(const std::vector<T>& entries, Key (*key)(const T&)) {
  std::map<Key, const T*> out;
  for (const auto& e : entries) out.emplace(key(e), &e);
  return out;
}

std::pair<uint32_t, int> route_key(const OverlayRoute& r) { return {r.dst.base, r.dst.prefix}; }
uint32_t neighbour_key(const OverlayNeighbour& n) { return n.ip; }
std::string fdb_key(const OverlayFdb& f) { return f.mac; }

// Fills add with want's entries not in have as they are, and remove with have's entries whose key want
// lacks.
template <typename T, typename Key>
void diff_one(const std::vector<T>& want, const std::vector<T>& have, Key (*key)(const T&), std::vector<T>* add,
              std::vector<T>* remove) {
  const auto wanted = by_key(want, key);
  const auto present = by_key(have, key);
  for (const auto& e : want) {
    auto it = present.find(key(e));
    if (it == present.end() || !(*it->second == e)) add->push_back(e);
  }
  for (const auto& e : have)
    if (!wanted.count(key(e))) remove->push_back(e);
}

}  // namespace

void sort_entries(OverlayEntries* entries) {
  std::sort(entries->routes.begin(), entries->routes.end());
  std::sort(entries->neighbours.begin(), entries->neighbours.end());
  std::sort(entries->fdb.begin(), entries->fdb.end());
}

std::string to_string(const OverlayRoute& route) {
  return net::format_cidr(route.dst) + " via " + net::format_ipv4(route.gateway) + (route.onlink ? " onlink" : "");
}

std::string to_string(const OverlayNeighbour& neighbour) {
  return net::format_ipv4(neighbour.ip) + " lladdr " + neighbour.mac;
}

std::string to_string(const OverlayFdb& fdb) { return fdb.mac + " dst " + net::format_ipv4(fdb.dst); }

std::string to_string(const OverlayEntries& entries) {
  std::ostringstream out;
  for (const auto& r : entries.routes) out << "route " << to_string(r) << "\n";
  for (const auto& n : entries.neighbours) out << "neigh " << to_string(n) << "\n";
  for (const auto& f : entries.fdb) out << "fdb " << to_string(f) << "\n";
  return entries.empty() ? "(none)\n" : out.str();
}

std::string to_string(const Refusal& refusal) {
  return "host " + refusal.host + ": " + refusal.field + ": " + refusal.rule;
}

Status validate_overlay_config(const OverlayConfig& config) {
  if (config.mode != "vxlan" && config.mode != "host-gw") return Status::Invalid("mode", "must be vxlan or host-gw");
  if (config.host_id.empty()) return Status::Invalid("host_id", "must not be empty");
  if (auto rule = unicast_ipv4_rule(config.underlay, nullptr); !rule.empty()) return Status::Invalid("underlay", rule);
  if (config.vni < 1 || config.vni > kMaxVni) return Status::Invalid("vni", "must be between 1 and 16777215");
  if (config.port < 1 || config.port > 65535) return Status::Invalid("port", "must be between 1 and 65535");
  if (config.probe_port < 1 || config.probe_port > 65535)
    return Status::Invalid("probe_port", "must be between 1 and 65535");
  if (config.route_protocol < 5 || config.route_protocol > 255)
    return Status::Invalid("route_protocol", "must be between 5 and 255 (0-4 are the kernel's own)");
  if (config.device.empty() || config.device.size() > kMaxDeviceName)
    return Status::Invalid("device", "must be 1 to 15 characters");
  if (config.device.find_first_of("/ :") != std::string::npos || config.device == "." || config.device == "..")
    return Status::Invalid("device", "must not contain '/', ':' or spaces");
  return Status::Ok();
}

OverlayEntries desired_entries(const OverlayConfig& config, const msg::State& state, std::vector<Refusal>* refused) {
  std::optional<net::Ipv4Net> own_subnet;
  for (const auto& h : state.hosts)
    if (h.id == config.host_id) {
      net::Ipv4Net subnet;
      if (subnet_rule(h.subnet, &subnet).empty()) own_subnet = subnet;
    }

  std::vector<Peer> peers;
  for (const auto& h : state.hosts) {
    if (h.id == config.host_id || h.status == "down") continue;
    Peer peer;
    peer.record = &h;
    net::Ipv4Net subnet;
    const std::string subnet_problem = subnet_rule(h.subnet, &subnet);
    if (subnet_problem.empty()) peer.subnet = subnet;
    if (h.overlay.mode.empty()) {
      peer.refuse("overlay.mode", "not set: the host's agent runs no overlay");
    } else if (h.overlay.mode != config.mode) {
      peer.refuse("overlay.mode", "must match this host's (" + config.mode + ")");
    } else {
      if (auto rule = unicast_ipv4_rule(h.overlay.underlay, &peer.underlay); !rule.empty())
        peer.refuse("overlay.underlay", rule);
      else if (h.overlay.underlay == config.underlay)
        peer.refuse("overlay.underlay", "must not be this host's own (" + config.underlay + ")");
      if (!subnet_problem.empty()) peer.refuse("subnet", subnet_problem);
      if (config.mode == "vxlan") {
        if (auto status = validate::mac_address("overlay.vtep_mac", h.overlay.vtep_mac); !status.ok())
          peer.refuse(status.field(), status.rule());
        else
          peer.mac = lower(h.overlay.vtep_mac);
        if (h.overlay.vni != config.vni)
          peer.refuse("overlay.vni", "must match this host's (" + std::to_string(config.vni) + ")");
        if (h.overlay.port != config.port)
          peer.refuse("overlay.port", "must match this host's (" + std::to_string(config.port) + ")");
      }
    }
    peers.push_back(std::move(peer));
  }

  // A peer that overlaps this host's subnet is wrong for certain (this host knows its own): it is
  // refused and takes no part in the checks between peers, so it costs no other peer its entries.
  for (auto& peer : peers)
    if (peer.subnet && own_subnet && overlap(*peer.subnet, *own_subnet)) {
      peer.refuse("subnet", "overlaps this host's (" + net::format_cidr(*own_subnet) + ")");
      peer.subnet.reset();
    }
  for (std::size_t i = 0; i < peers.size(); ++i) {
    if (!peers[i].subnet) continue;
    for (std::size_t j = i + 1; j < peers.size(); ++j) {
      if (!peers[j].subnet || !overlap(*peers[i].subnet, *peers[j].subnet)) continue;
      peers[i].refuse("subnet", "overlaps host " + peers[j].record->id + "'s (" + peers[j].record->subnet + ")");
      peers[j].refuse("subnet", "overlaps host " + peers[i].record->id + "'s (" + peers[i].record->subnet + ")");
    }
  }
  if (config.mode == "vxlan")
    for (std::size_t i = 0; i < peers.size(); ++i)
      for (std::size_t j = i + 1; j < peers.size(); ++j) {
        if (peers[i].mac.empty() || peers[i].mac != peers[j].mac) continue;
        peers[i].refuse("overlay.vtep_mac", "same as host " + peers[j].record->id + "'s");
        peers[j].refuse("overlay.vtep_mac", "same as host " + peers[i].record->id + "'s");
      }

  OverlayEntries out;
  std::vector<Refusal> refusals;
  for (const auto& peer : peers) {
    if (!peer.refusals.empty()) {
      refusals.insert(refusals.end(), peer.refusals.begin(), peer.refusals.end());
      continue;
    }
    const net::Ipv4Net subnet = *peer.subnet;  // set: a peer without one is refused
    if (config.mode == "vxlan") {
      out.routes.push_back({subnet, vtep_address(subnet), true});
      out.neighbours.push_back({vtep_address(subnet), peer.mac});
      out.fdb.push_back({peer.mac, peer.underlay});
    } else {
      out.routes.push_back({subnet, peer.underlay, false});
    }
  }
  sort_entries(&out);
  std::sort(refusals.begin(), refusals.end());
  if (refused != nullptr) *refused = std::move(refusals);
  return out;
}

OverlayDiff diff(const OverlayEntries& want, const OverlayEntries& have) {
  OverlayDiff out;
  diff_one(want.routes, have.routes, &route_key, &out.to_add.routes, &out.to_remove.routes);
  diff_one(want.neighbours, have.neighbours, &neighbour_key, &out.to_add.neighbours, &out.to_remove.neighbours);
  diff_one(want.fdb, have.fdb, &fdb_key, &out.to_add.fdb, &out.to_remove.fdb);
  sort_entries(&out.to_add);
  sort_entries(&out.to_remove);
  return out;
}

}  // namespace pier::agent
