// The load balancer spec of one host: a pure function of the registry's state. No I/O, no clock: the
// same state always gives the same spec, sorted, so that its rendered config hashes the same.
#pragma once

#include <string>
#include <tuple>
#include <vector>

#include "common/messages.h"
#include "common/status.h"

namespace pier::lbgen {

// An app, or one of its port mappings, that the spec leaves out, and why (two apps claiming one
// port in ways HAProxy cannot tell apart, or fields that fail validation). The registry refuses such
// deploys; this is defence, reported so the caller can log it.
struct Excluded {
  std::string app;
  int port = 0;  // the external port concerned; 0 when the whole app is left out
  std::string reason;
  bool operator==(const Excluded&) const = default;
  bool operator<(const Excluded& o) const { return std::tie(app, port, reason) < std::tie(o.app, o.port, o.reason); }
};

// Whether a host's fields are safe to put into a config: an IPv4 bind address (or none), a stats
// port in range (or 0), a stats socket path of plain characters (or none).
Status check_host(const msg::HostRecord& host);

// The spec for `host`: one frontend per external port ("fe_<port>"), one backend per app and internal
// port ("app_<app>_<internal>") holding that app's running instances (on any host) as servers. HTTP
// apps sharing a port are routed by context path, longest first, "/" being the default; a TCP
// frontend has the single route "/". When two apps conflict on a port, the one listed first in
// state.apps keeps it; the other is reported in `excluded` (when given). Only backends that a
// frontend routes to are listed.
msg::LbSpec build_spec(const msg::State& state, const msg::HostRecord& host, std::vector<Excluded>* excluded = nullptr);

}  // namespace pier::lbgen
