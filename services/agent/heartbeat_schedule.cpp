#include "services/agent/heartbeat_schedule.h"

#include <algorithm>
#include <utility>

namespace pier::agent {

bool HeartbeatSchedule::due(int64_t now_ms, bool changed) const {
  return changed || last_ms_ < 0 || now_ms - last_ms_ >= period_ms_;
}

int64_t HeartbeatSchedule::wait_ms(int64_t now_ms) const {
  if (last_ms_ < 0) return 0;
  return std::max<int64_t>(0, last_ms_ + period_ms_ - now_ms);
}

std::optional<int64_t> HeartbeatSchedule::sent(int64_t now_ms) {
  const int64_t previous = std::exchange(last_ms_, now_ms);
  if (previous < 0) return std::nullopt;
  const int64_t gap = now_ms - previous;
  longest_gap_ms_ = std::max(longest_gap_ms_, gap);
  if (2 * gap > 3 * period_ms_) return gap;
  return std::nullopt;
}

}  // namespace pier::agent
