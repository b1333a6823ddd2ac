// When the agent's heartbeats are due, and which of them left late. Pure: the caller passes the time.
// A registry hears of a host only through these; a gap of more than 1.5 periods is worth a warning
// (under saturating load the agent's single loop once left 6-7 s between two).
#pragma once

#include <cstdint>
#include <optional>

namespace pier::agent {

class HeartbeatSchedule {
 public:
  explicit HeartbeatSchedule(int64_t period_ms) : period_ms_(period_ms) {}

  // Due: the first one, a period after the previous one, or at once when something changed.
  bool due(int64_t now_ms, bool changed) const;
  // How long until the next periodic heartbeat is due (0: now), so that a loop waits no longer.
  int64_t wait_ms(int64_t now_ms) const;
  // Records a heartbeat sent at now_ms. Returns the gap since the previous one when it exceeds 1.5
  // periods.
  std::optional<int64_t> sent(int64_t now_ms);
  int64_t period_ms() const { return period_ms_; }
  // The longest gap between two heartbeats so far (0 before the second).
  int64_t longest_gap_ms() const { return longest_gap_ms_; }

 private:
  int64_t period_ms_;
  int64_t last_ms_ = -1;
  int64_t longest_gap_ms_ = 0;
};

}  // namespace pier::agent
