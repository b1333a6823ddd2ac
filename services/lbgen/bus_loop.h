// pier-lbgen's loop on the bus, one turn at a time, so that tests drive it over inproc sockets.
#pragma once

#include <cstdint>

#include "common/bus.h"
#include "common/clock.h"
#include "services/lbgen/generator.h"

namespace pier::lbgen {

inline constexpr int64_t kSnapshotRequestEveryMs = 500;
inline constexpr int kMaxStatesPerStep = 32;

class BusLoop {
 public:
  BusLoop(Generator& generator, bus::Publisher& publisher, const Clock& clock);

  // One turn: asks for a snapshot (every kSnapshotRequestEveryMs) until a first state arrives,
  // publishes the configs that are due, waits up to timeout_ms for a message, then takes what else
  // waits (at most kMaxStatesPerStep messages) and renders the newest state among them only. A
  // state.full body that does not decode is rejected on `subscriber` (counted, logged once per
  // sender) and changes nothing. A signal interrupting the wait ends the turn early.
  void step(bus::Subscriber& subscriber, int timeout_ms);

 private:
  void publish(const std::vector<msg::LbConfig>& configs);

  Generator& generator_;
  bus::Publisher& publisher_;
  const Clock& clock_;
  bool asked_once_ = false;
  int64_t last_snapshot_request_ms_ = 0;
};

}  // namespace pier::lbgen
