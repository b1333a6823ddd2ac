// The autoscaler: a pure function of (policy, time zone, replicas, metric history, previous decisions,
// now) to a decision that says what it chose and why. No I/O, no clock: the caller passes `now` and a
// TimeZone it loaded (common/time_zone.h). Nothing here sends a command; the caller applies the plan.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/messages.h"
#include "common/time_zone.h"

namespace pier::metrics {

// One per-app figure in time, aggregated over the app's instances. A figure that was not measured is
// NaN (absent): targets on it have no say in that sample.
struct AppSample {
  int64_t time_ms = 0;             // UTC ms
  double cpu_percent = 0;          // average over instances, % of one core
  double requests_per_second = 0;  // total over the app
  double p95_latency_ms = 0;
  int instances = 0;  // how many instances produced these figures
};

struct Decision {
  int64_t time_ms = 0;
  int current = 0;                       // replicas when deciding
  int desired = 0;                       // replicas to have; == current means hold
  std::string rule;                      // which rule fired (see autoscaler.cpp's kRule*)
  std::map<std::string, double> inputs;  // the numbers used, by name
  std::string explanation;               // one line for `pier why`
};

// Bounds of the replica count at an instant: the first active schedule period's, else the policy's.
struct Bounds {
  int min = 0;
  int max = 0;
  std::string period;   // "schedule[2]" or "default"
  std::string prewarm;  // the coming period whose min raised the floor, else empty
};
Bounds bounds_at(const msg::AutoscalePolicy& policy, const TimeZone& zone, int64_t utc_ms);

// bounds_at(now) with the floor raised to the min of any period that starts within prewarm_s.
Bounds bounds_with_prewarm(const msg::AutoscalePolicy& policy, const TimeZone& zone, int64_t now_ms);

// The reactive answer for one sample: max over targets of ceil(instances * observed / target), where
// instances is the sample's count (its figures came from them), or `current` when the sample has none.
// -1 when the policy has no targets, or none of its metrics was measured in the sample (all NaN).
int recommendation(const msg::AutoscalePolicy& policy, const AppSample& sample, int current);

// Decides the replica count. `history` may be in any order; `previous` are earlier decisions (for the
// cooldown: the last one whose desired differed from its current).
Decision decide(const msg::AutoscalePolicy& policy, const TimeZone& zone, int current,
                const std::vector<AppSample>& history, const std::vector<Decision>& previous, int64_t now_ms);

struct InstanceLoad {
  std::string id;    // "<app>-<n>"
  int sessions = 0;  // current sessions in HAProxy
};

// The `n` instances to remove on scale-in: fewest current sessions first; on a tie the newest
// (highest <n>) first.
std::vector<std::string> least_busy(std::vector<InstanceLoad> instances, int n);

}  // namespace pier::metrics
