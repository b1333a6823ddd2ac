// The load balancer spec every host shares (topic lb.spec): lbgen builds it once per state and publishes
// what changed (msg::LbSpecUpdate); each agent keeps a copy, applies the changes, and renders its own
// haproxy.cfg from it with its own bind address and stats settings. A copy is named by its hash, so an
// agent that missed an update finds out from the next one (its base is not the copy's hash) and asks for
// the whole spec. The hash covers the names and digests lbgen sends, not the reader's own encoding, so a
// reader of another version (fields added) agrees with lbgen on it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/messages.h"
#include "common/status.h"

namespace pier::lb {

struct FleetSpec {
  int64_t state_revision = 0;
  std::vector<msg::LbFrontend> frontends;
  std::string frontends_digest;
  std::map<std::string, msg::LbSpecBackend> backends;  // by backend name
  std::string template_hash;
  std::string template_text;
  std::string hash;  // fleet_hash() of the above; empty: no spec yet
};

// common/hash.h of a backend's encoding (what lbgen puts in LbSpecBackend.digest).
std::string backend_digest(const msg::LbBackend& backend);

// The hash that names a spec: of its template's hash, its frontends' digest and each backend's name and
// digest, in name order.
std::string fleet_hash(const FleetSpec& spec);

// The fleet part of `spec` (its frontends and backends; its host fields are left out), with the template
// it is rendered with: what lbgen publishes.
FleetSpec fleet_of(const msg::LbSpec& spec, std::string template_text, int64_t state_revision);

// The whole of `spec`: replaces whatever a reader holds.
msg::LbSpecUpdate whole(const FleetSpec& spec);

// What turns `from` into `to`: the frontends when they changed, the backends new or changed, the names of
// those gone. `from` == `to` gives an update that changes nothing (a beacon: its hash tells a reader
// whether it is up to date).
msg::LbSpecUpdate delta(const FleetSpec& from, const FleetSpec& to);

// Applies `update` to `spec`. Refuses, leaving `spec` as it was, an update that is not whole and whose
// base is not spec's hash (a missed update), or whose result does not have the hash it announces; says
// which. An update whose hash is spec's own changes nothing but the state revision.
Status apply(FleetSpec& spec, const msg::LbSpecUpdate& update);

// The LbSpec that `host`'s HAProxy runs: the fleet's frontends and backends with the host's own fields.
msg::LbSpec for_host(const FleetSpec& spec, const std::string& host_id, const std::string& bind_address,
                     const std::string& stats_socket, int stats_port);

}  // namespace pier::lb
