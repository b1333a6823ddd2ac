// Fault injection for tests: decides which whole messages pier-bus drops. Seeded, so that a run can be
// repeated; time-limited by the clock it is given. Off unless the operator asks for it by name.
#pragma once

#include <cstdint>
#include <random>

#include "common/clock.h"
#include "common/status.h"

namespace pier::bus_proxy {

struct DropOptions {
  double share = 0;    // 0..1: the share of messages dropped while active
  uint64_t seed = 1;   // the same seed drops the same messages of the same stream
  int64_t for_ms = 0;  // how long after start the drops last; 0 = for as long as the bus runs
};

// Refuses a share outside 0..1 or a negative duration, naming the option.
Status check(const DropOptions& options);

class MessageDropper {
 public:
  // The drop window starts now (clock.steady_ms()).
  MessageDropper(const DropOptions& options, const Clock& clock);

  // Whether the next message is dropped. Draws from the seeded generator only while active.
  bool drop();
  // Drops can still happen: share > 0 and the window has not ended.
  bool active() const;

  uint64_t seen() const { return seen_; }  // messages judged, inside and after the window
  uint64_t dropped() const { return dropped_; }
  const DropOptions& options() const { return options_; }

 private:
  DropOptions options_;
  const Clock& clock_;
  int64_t started_ms_;
  std::mt19937_64 random_;
  uint64_t seen_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace pier::bus_proxy
