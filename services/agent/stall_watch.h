// Whether one of the agent's worker threads has been stuck in a single step for long (the LB worker
// in a 10 s reload wait, the instance worker in a Docker call), so that an operator reads it once per
// event: one line when the step passes the threshold, one when it ends. Pure: the caller passes when
// the worker's current step began and the time.
#pragma once

#include <cstdint>
#include <optional>

namespace pier::agent {

class StallWatch {
 public:
  explicit StallWatch(int64_t threshold_ms) : threshold_ms_(threshold_ms) {}

  struct Event {
    bool stuck = false;  // true: the step passed the threshold; false: the step it was stuck in ended
    int64_t ms = 0;      // how long that step has run (stuck) or ran, as seen at this call (ended)
  };
  // `busy_since_ms`: when the worker's current step began, -1 while it waits for work.
  std::optional<Event> observe(int64_t busy_since_ms, int64_t now_ms);

 private:
  int64_t threshold_ms_;
  int64_t stuck_step_ = -1;  // busy_since of the step reported stuck
};

}  // namespace pier::agent
