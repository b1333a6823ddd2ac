#include "services/agent/stall_watch.h"

namespace pier::agent {

std::optional<StallWatch::Event> StallWatch::observe(int64_t busy_since_ms, int64_t now_ms) {
  if (stuck_step_ >= 0 && busy_since_ms != stuck_step_) {
    const int64_t ran = now_ms - stuck_step_;
    stuck_step_ = -1;
    return Event{false, ran};
  }
  if (busy_since_ms >= 0 && stuck_step_ < 0 && now_ms - busy_since_ms > threshold_ms_) {
    stuck_step_ = busy_since_ms;
    return Event{true, now_ms - busy_since_ms};
  }
  return std::nullopt;
}

}  // namespace pier::agent
