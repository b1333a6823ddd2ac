// pier-lbgen's loop on the bus, one turn at a time, so that tests drive it over inproc sockets.
#pragma once

#include <cstdint>

#include "common/bus.h"
#include "common/clock.h"
#include "common/state_delta.h"
#include "services/lbgen/generator.h"

namespace pier::lbgen {

inline constexpr int64_t kSnapshotRequestEveryMs = 500;
inline constexpr int kMaxStatesPerStep = 32;
// A whole spec goes out at most this often however many agents ask (lb.resync.<host>): one whole answers
// every agent that asked meanwhile, as each gets every lb.spec message.
inline constexpr int64_t kWholeSpecEveryMs = 300;

class BusLoop {
 public:
  BusLoop(Generator& generator, bus::Publisher& publisher, const Clock& clock);

  // One turn: asks for a snapshot (every kSnapshotRequestEveryMs) while it holds no state or after a gap,
  // publishes what is due (Generator::due, and the whole spec when an agent asked for it on
  // lb.resync.<host> and kWholeSpecEveryMs have passed since the last), waits up to timeout_ms for a
  // message, then takes what else waits (at most kMaxStatesPerStep messages) into its mirror of the state
  // and builds the state they make once. A state or lb.resync body that does not decode is rejected on `subscriber`
  // (counted, logged once per sender) and changes nothing. A signal interrupting the wait ends the turn
  // early.
  void step(bus::Subscriber& subscriber, int timeout_ms);

 private:
  void publish(const Publications& out);
  void publish_whole_if_asked();

  Generator& generator_;
  bus::Publisher& publisher_;
  const Clock& clock_;
  state::Follower follower_;  // the registry's state (state.full, state.delta)
  bool whole_asked_ = false;
  int64_t last_whole_ms_ = -kWholeSpecEveryMs;
};

}  // namespace pier::lbgen
