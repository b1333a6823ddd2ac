// What the registry publishes, and when (a plain object of clock and state, so tests drive it without
// sockets): a state.delta after every change and a beacon every `beacon_ms` (common/state_delta.h); the
// whole state on request, coalesced (at most one every `min_full_gap_ms` answers every request made
// meanwhile: every subscriber gets each one), and every `full_every_ms` for readers that never ask.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/messages.h"
#include "common/state_delta.h"
#include "services/registry/dispatch.h"

namespace pier::registry {

struct PublishOptions {
  int64_t beacon_ms = 1000;
  int64_t full_every_ms = 30'000;
  int64_t min_full_gap_ms = 50;  // a CLI asks before every command: it should not wait long
  // Every change as state.full too, as registries before state.delta did: for readers that know only
  // state.full (older than state.delta), which otherwise see a change at the next full.
  bool full_on_change = false;
};

class Publication {
 public:
  Publication(const Clock& clock, PublishOptions options, std::string stream);

  // Asks for the whole state (cmd.snapshot): published by the next due() at most min_full_gap_ms after
  // the last one.
  void snapshot_requested() { full_wanted_ = true; }

  // What to publish now, `changed` telling whether the state changed since the last call (a call
  // without a change may still bring the beacon or a full).
  std::vector<Outgoing> due(const msg::State& state, bool changed);

  const state::Differ& differ() const { return differ_; }

 private:
  const Clock& clock_;
  PublishOptions options_;
  state::Differ differ_;
  bool started_ = false;
  bool full_wanted_ = true;  // a new stream starts with the whole state
  int64_t last_delta_ms_ = 0;
  int64_t last_full_ms_ = 0;
};

}  // namespace pier::registry
