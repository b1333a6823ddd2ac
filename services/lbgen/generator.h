// The heart of pier-lbgen, without the bus: turns each state into the load balancer spec every host
// shares (lb.spec, common/lb_fleet.h), and into one rendered LbConfig for each host that is up and whose
// agent does not render its own (HostRecord.renders_lb: agents older than lb.spec). Says what to publish
// now. Level-triggered: a change goes out as soon as the spec's (or a config's) hash changes; every
// `republish_ms` the spec's hash goes out again (a beacon: a reader that missed a change finds out and
// asks for the whole) with every rendered config.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/lb_fleet.h"
#include "common/messages.h"
#include "services/lbgen/lb_spec.h"

namespace pier::lbgen {

// What to publish: the spec's update (its first is whole) and the rendered configs.
struct Publications {
  std::optional<msg::LbSpecUpdate> spec;
  std::vector<msg::LbConfig> configs;
};

class Generator {
 public:
  // `template_text` must have passed check_template().
  Generator(std::string template_text, int64_t republish_ms);

  // Builds the spec from `state` once, and renders the config of every host that is not down ("up" or
  // "suspect") and does not render its own. Returns the spec's update when its hash changed (the first
  // one whole), and the configs whose hash differs from the one last returned for that host (new hosts
  // included). A host that is down or gone is forgotten.
  Publications on_state(const msg::State& state, int64_t now_ms);

  // Once `republish_ms` has passed since the last time this returned something: a beacon of the spec
  // (an update that changes nothing, naming its hash) and every host's latest config; otherwise nothing.
  Publications due(int64_t now_ms);

  // The whole spec (for a reader that asks), nullopt before the first state.
  std::optional<msg::LbSpecUpdate> whole() const;

  bool has_state() const { return has_state_; }

 private:
  void report(const std::vector<Excluded>& excluded, const std::map<std::string, std::string>& failures);

  std::string template_text_;
  int64_t republish_ms_;
  bool has_state_ = false;
  int64_t last_republish_ms_ = 0;
  lb::FleetSpec fleet_;                          // the spec last built
  std::map<std::string, msg::LbConfig> latest_;  // by host id, for hosts that take a rendered config
  // What was last logged, so that a problem is logged when it appears, not on every state.
  std::vector<Excluded> logged_excluded_;
  std::map<std::string, std::string> logged_failures_;  // host id -> why it has no config
};

}  // namespace pier::lbgen
