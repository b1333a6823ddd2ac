// Steps an LbApplier until what it began (a check, a start, a reload) has ended, for the tests that
// run it against the real HAProxy, which loads in its own time. The test's ManualClock moves with real
// time meanwhile (HaproxyMaster sends a SIGUSR2 the master missed again after a second on the clock).
// Bounded: gives up after timeout_ms of real time, leaving busy() true for the test to see.
#pragma once

#include <chrono>
#include <thread>
#include <type_traits>

#include "common/clock.h"
#include "services/agent/lb_applier.h"

namespace pier::agent {

// Whether status() changed (`changed`: it did already, in the call that began the work).
template <typename TestClock>  // ManualClock or SystemClock
bool finish(LbApplier& lb, TestClock& clock, bool changed = false, int timeout_ms = 20'000) {
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::milliseconds(timeout_ms);
  int64_t moved_ms = 0;
  while (lb.busy() && std::chrono::steady_clock::now() < deadline) {
    if (lb.tick()) changed = true;
    if (!lb.busy()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    const auto real_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    if constexpr (std::is_same_v<TestClock, ManualClock>) clock.advance(real_ms - moved_ms);
    moved_ms = real_ms;
  }
  return changed;
}

// apply(config) and then finish(): whether status() changed.
template <typename TestClock>
bool apply_now(LbApplier& lb, TestClock& clock, const msg::LbConfig& config) {
  return finish(lb, clock, lb.apply(config));
}

}  // namespace pier::agent
