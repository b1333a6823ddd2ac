// The heart of pier-lbgen, without the bus: turns each state into one LbConfig per host that is up,
// and says which configs to publish now. Level-triggered: a config goes out as soon as its hash
// changes, and every host's latest config goes out again every `republish_ms`.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/messages.h"
#include "services/lbgen/lb_spec.h"

namespace pier::lbgen {

class Generator {
 public:
  // `template_text` must have passed check_template().
  Generator(std::string template_text, int64_t republish_ms);

  // Builds and renders the config of every host that is not down ("up" or "suspect"). Returns the configs
  // whose hash differs from the one last returned for that host (new hosts included). A host that is
  // down or gone is forgotten. The latest config of every host carries this state's revision, changed or not.
  std::vector<msg::LbConfig> on_state(const msg::State& state, int64_t now_ms);

  // Every host's latest config once `republish_ms` has passed since the last time this returned
  // them; otherwise nothing.
  std::vector<msg::LbConfig> due(int64_t now_ms);

  bool has_state() const { return has_state_; }

 private:
  void report(const std::vector<Excluded>& excluded, const std::map<std::string, std::string>& failures);

  std::string template_text_;
  int64_t republish_ms_;
  bool has_state_ = false;
  int64_t last_republish_ms_ = 0;
  std::map<std::string, msg::LbConfig> latest_;  // by host id
  // What was last logged, so that a problem is logged when it appears, not on every state.
  std::vector<Excluded> logged_excluded_;
  std::map<std::string, std::string> logged_failures_;  // host id -> why it has no config
};

}  // namespace pier::lbgen
