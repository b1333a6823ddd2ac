// Helpers for the tests that run LbApplier against the real HAProxy, which loads in its own time.
//
// finish() steps an LbApplier until what it began (a check, a start, a reload) has ended. The test's
// ManualClock moves with real time meanwhile (HaproxyMaster sends a SIGUSR2 the master missed again
// after a second on the clock). Bounded: gives up after timeout_ms of real time, leaving busy() true
// for the test to see.
#pragma once

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>
#include <type_traits>
#include <vector>

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

// Kills what a failed test left of the HAProxy masters it started, and their workers: only masters
// that are still our unreaped children, since a reaped one's pid (and process group id) may already
// belong to another test's process (pid_max can be as low as 32768).
inline void kill_masters(const std::vector<pid_t>& masters) {
  for (pid_t pid : masters) {
    if (::waitpid(pid, nullptr, WNOHANG) != 0) continue;
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    for (int i = 0; i < 200 && ::waitpid(pid, nullptr, WNOHANG) == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace pier::agent
