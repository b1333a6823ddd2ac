#include "services/agent/overlay.h"

#include <spdlog/spdlog.h>

namespace pier::agent {
namespace {

// VXLAN over IPv4 adds 50 bytes: outer IPv4 (20), UDP (8), VXLAN (8), inner Ethernet (14).
constexpr int kVxlanOverhead = 50;

bool same(const net::Ipv4Net& a, const net::Ipv4Net& b) { return a.base == b.base && a.prefix == b.prefix; }

}  // namespace

Overlay::Overlay(OverlayConfig config, Netlink& netlink, bool local_subnet)
    : config_(std::move(config)), netlink_(netlink), local_subnet_(local_subnet) {}

Status Overlay::setup() {
  if (auto s = validate_overlay_config(config_); !s.ok()) return s;
  const uint32_t underlay = *net::parse_ipv4(config_.underlay);
  auto mtu = netlink_.underlay_mtu(underlay);
  if (!mtu.ok()) return mtu.status();
  msg::OverlayInfo info;
  int ifindex = 0;
  info.mode = config_.mode;
  info.underlay = config_.underlay;
  info.probe_port = config_.probe_port;
  if (config_.mode == "vxlan") {
    auto device = netlink_.ensure_vxlan(config_.device, config_.vni, config_.port, underlay, *mtu - kVxlanOverhead);
    if (!device.ok()) return device.status();
    if (auto s = netlink_.ensure_up(config_.device); !s.ok()) return s;
    ifindex = device->ifindex;
    info.vtep_mac = device->mac;
    info.vni = config_.vni;
    info.port = config_.port;
    info.mtu = *mtu - kVxlanOverhead;
  } else {
    if (auto s = netlink_.remove_device(config_.device); !s.ok()) return s;
    info.mtu = *mtu;
  }
  if (info.vtep_mac != info_.vtep_mac || info.mtu != info_.mtu || info.mode != info_.mode)
    spdlog::info("overlay: {} on host {}, underlay {}{}, mtu {}", config_.mode, config_.host_id, config_.underlay,
                 config_.mode == "vxlan" ? " (device " + config_.device + ", vtep " + info.vtep_mac + ")" : "",
                 info.mtu);
  if (ifindex != ifindex_) own_subnet_.reset();  // a new device has no address yet
  ifindex_ = ifindex;
  info_ = info;
  ready_ = true;
  return Status::Ok();
}

msg::OverlayInfo Overlay::info() const { return info_; }

Status Overlay::apply(const msg::State& state) {
  Status status = ready_ ? Status::Ok() : setup();
  if (status.ok()) status = apply_own_subnet(state);
  if (ready_) {
    const OverlayEntries want = desired_entries(config_, state, &refused_);
    log_refusals();
    if (auto s = apply_entries(want); status.ok()) status = s;
  }
  if (status.ok()) {
    if (!logged_error_.empty()) spdlog::info("overlay: entries applied again on host {}", config_.host_id);
    logged_error_.clear();
  } else {
    if (status.message() != logged_error_) spdlog::error("overlay on host {}: {}", config_.host_id, status.message());
    logged_error_ = status.message();
    ready_ = false;  // the device may be gone: set it up again (reads only when it is there as wanted)
  }
  return status;
}

Status Overlay::apply_own_subnet(const msg::State& state) {
  std::optional<net::Ipv4Net> subnet;
  for (const auto& h : state.hosts)
    if (h.id == config_.host_id)
      if (auto parsed = net::parse_cidr(h.subnet); parsed.ok()) subnet = *parsed;
  // Before this host's record (with its subnet) is in the state, what was set stays.
  if (!subnet) return Status::Ok();
  if (!own_subnet_ || !same(*own_subnet_, *subnet)) {
    if (config_.mode == "vxlan")
      if (auto s = netlink_.set_address(config_.device, vtep_address(*subnet)); !s.ok()) return s;
    if (local_subnet_)
      if (auto s = netlink_.ensure_local_subnet(*subnet, config_.route_protocol); !s.ok()) return s;
    spdlog::info("overlay: host {} subnet {}{}{}", config_.host_id, net::format_cidr(*subnet),
                 config_.mode == "vxlan" ? ", device address " + net::format_ipv4(vtep_address(*subnet)) + "/32" : "",
                 local_subnet_ ? ", local route on lo" : "");
    own_subnet_ = subnet;
  }
  if (!local_subnet_) return Status::Ok();
  auto local = netlink_.local_subnets(config_.route_protocol);
  if (!local.ok()) return local.status();
  for (const auto& stale : *local) {
    if (same(stale, *subnet)) continue;
    if (auto s = netlink_.remove_local_subnet(stale, config_.route_protocol); !s.ok()) return s;
    spdlog::info("overlay: removed the local route of {} (host {}'s subnet is {})", net::format_cidr(stale),
                 config_.host_id, net::format_cidr(*subnet));
  }
  return Status::Ok();
}

Status Overlay::apply_entries(const OverlayEntries& want) {
  auto have = netlink_.list_owned(config_.device, config_.route_protocol);
  if (!have.ok()) return have.status();
  const OverlayDiff d = diff(want, *have);
  if (d.empty()) return Status::Ok();
  const std::string& dev = config_.device;
  const int proto = config_.route_protocol;
  // Make before break: FDB entries and neighbours before the routes that use them, and routes removed
  // before what they used. One failed entry does not stop the others.
  Status first;
  auto note = [&](Status s, const std::string& what) {
    if (s.ok()) spdlog::info("overlay: {}", what);
    if (!s.ok() && first.ok()) first = std::move(s);
  };
  for (const auto& e : d.to_add.fdb) note(netlink_.add_or_replace(e, dev), "fdb " + to_string(e) + " set");
  for (const auto& e : d.to_add.neighbours) note(netlink_.add_or_replace(e, dev), "neigh " + to_string(e) + " set");
  for (const auto& e : d.to_add.routes) note(netlink_.add_or_replace(e, dev, proto), "route " + to_string(e) + " set");
  for (const auto& e : d.to_remove.routes) note(netlink_.remove(e, dev, proto), "route " + to_string(e) + " removed");
  for (const auto& e : d.to_remove.neighbours) note(netlink_.remove(e, dev), "neigh " + to_string(e) + " removed");
  for (const auto& e : d.to_remove.fdb) note(netlink_.remove(e, dev), "fdb " + to_string(e) + " removed");
  return first;
}

void Overlay::log_refusals() {
  std::set<Refusal> now(refused_.begin(), refused_.end());
  for (const auto& r : now)
    if (!logged_refusals_.count(r))
      spdlog::warn("overlay on host {}: no entry for host {}: {}: {}", config_.host_id, r.host, r.field, r.rule);
  logged_refusals_ = std::move(now);
}

}  // namespace pier::agent
