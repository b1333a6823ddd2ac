// The states an instance, a host and a rollout pass through, named once. On the wire (and in the
// registry's store) they stay the strings below: these constants are how C++ spells them.
#pragma once

#include <cstdint>
#include <string>

namespace pier::states {

// InstanceRecord.state (the registry's) and InstanceStatus.state (an agent's report).
namespace instance {
inline constexpr const char* kPending = "pending";    // wanted, not placed yet (registry)
inline constexpr const char* kPlaced = "placed";      // given a host and an IP, not started yet (registry)
inline constexpr const char* kStarting = "starting";  // started, health check not passed yet (agent)
inline constexpr const char* kRunning = "running";    // passes its health check: it serves (agent)
inline constexpr const char* kFailed = "failed";      // exited, or could not start (agent)
inline constexpr const char* kStopped = "stopped";    // stopped on purpose (agent)
inline constexpr const char* kDraining = "draining";  // no longer wanted: out of HAProxy, then stopped (registry)
}  // namespace instance

// HostRecord.status.
namespace host {
inline constexpr const char* kUp = "up";            // heard from within --host-down-after-ms
inline constexpr const char* kSuspect = "suspect";  // silent: its instances stay while replacements start
inline constexpr const char* kDown = "down";        // silent, and nothing it ran is wanted there any more
}  // namespace host

// Rollout.state ("" for an app never rolled out).
namespace rollout {
inline constexpr const char* kRolling = "rolling";
inline constexpr const char* kDone = "done";
inline constexpr const char* kRollingBack = "rolling_back";
inline constexpr const char* kRolledBack = "rolled_back";
inline constexpr const char* kStuck = "stuck";  // a rollback that did not complete either
}  // namespace rollout

// The instance id: "<app>-<n>", n from a counter that never goes back, so an id is never reused.
inline std::string instance_id(const std::string& app, int64_t n) { return app + "-" + std::to_string(n); }

// The n of an instance id "<app>-<n>" (its serial: a higher one was created later); -1 when the id has
// no numeric suffix.
inline long long instance_serial(const std::string& id) {
  const auto dash = id.rfind('-');
  if (dash == std::string::npos || dash + 1 >= id.size() || id.size() - dash > 18) return -1;
  long long n = 0;
  for (std::size_t i = dash + 1; i < id.size(); ++i) {
    if (id[i] < '0' || id[i] > '9') return -1;
    n = n * 10 + (id[i] - '0');
  }
  return n;
}

}  // namespace pier::states
