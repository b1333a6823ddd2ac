// pier-lbgen's loop on the bus, one turn at a time, so that tests drive it over inproc sockets.
#pragma once

#include <cstdint>

#include "common/bus.h"
#include "common/clock.h"
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

  // One turn: asks for a snapshot (every kSnapshotRequestEveryMs) until a first state arrives,
  // publishes what is due (Generator::due, and the whole spec when an agent asked for it on
  // lb.resync.<host> and kWholeSpecEveryMs have passed since the last), waits up to timeout_ms for a
  // message, then takes what else waits (at most kMaxStatesPerStep messages) and builds the newest state
  // among them only. A state.full or lb.resync body that does not decode is rejected on `subscriber`
  // (counted, logged once per sender) and changes nothing. A signal interrupting the wait ends the turn
  // early.
  void step(bus::Subscriber& subscriber, int timeout_ms);

 private:
  void publish(const Publications& out);
  void publish_whole_if_asked();

  Generator& generator_;
  bus::Publisher& publisher_;
  const Clock& clock_;
  bool asked_once_ = false;
  int64_t last_snapshot_request_ms_ = 0;
  bool whole_asked_ = false;
  int64_t last_whole_ms_ = -kWholeSpecEveryMs;
};

}  // namespace pier::lbgen
