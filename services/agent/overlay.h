// This host's side of the overlay: sets up the VXLAN device (vxlan mode) and, on every state, makes
// the kernel's overlay entries those of the plan (overlay_plan.h), through Netlink. One owner thread.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/messages.h"
#include "common/status.h"
#include "services/agent/netlink.h"
#include "services/agent/overlay_plan.h"

namespace pier::agent {

class Overlay {
 public:
  // local_subnet: the host runs instances as processes (exec runtime), so its whole subnet is made
  // local (`local <subnet> dev lo`) for them to bind their addresses; a docker host's bridge holds it.
  Overlay(OverlayConfig config, Netlink& netlink, bool local_subnet);

  // Checks the config and finds the underlay's MTU. vxlan: the device (created, or kept when it is
  // already as wanted), up, with MTU underlay - 50. host-gw: a device of that name left from vxlan mode
  // is deleted. apply() runs it again while it has not succeeded.
  Status setup();
  // What heartbeats report, once setup() succeeded (mode, underlay, vtep_mac, vni, port, mtu, probe_port).
  msg::OverlayInfo info() const;
  // Makes this host's overlay entries those the state asks for: the device's address (its subnet's
  // network address, /32) and, with local_subnet, the local route, from this host's own HostRecord;
  // the routes, neighbours and FDB entries of the peers, replacing changed ones and removing those of
  // peers that left (down, or gone from the state). No write when nothing changed. A refusal is logged
  // once until it changes, an error once until apply succeeds; the first error is returned.
  Status apply(const msg::State& state);
  // The peers the last apply() wrote nothing for, and why.
  std::vector<Refusal> refused() const { return refused_; }
  const OverlayConfig& config() const { return config_; }

 private:
  Status apply_own_subnet(const msg::State& state);
  Status apply_entries(const OverlayEntries& want);
  void log_refusals();

  OverlayConfig config_;
  Netlink& netlink_;
  bool local_subnet_;
  bool ready_ = false;
  msg::OverlayInfo info_;
  int ifindex_ = 0;                         // of the device set up last (vxlan)
  std::optional<net::Ipv4Net> own_subnet_;  // the one the device address and local route were set for
  std::vector<Refusal> refused_;
  std::set<Refusal> logged_refusals_;
  std::string logged_error_;
};

}  // namespace pier::agent
