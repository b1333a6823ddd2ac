// Rolling redeploys as pure decisions (Nomad's reconciler shape): from an app, its instances and the
// time, what to retire, how many new instances to create and what the rollout is now. No I/O, no clock:
// the registry applies the plan.
//
// A rollout replaces the instances of other revisions with instances of the app's revision, within
// max_surge (instances beyond replicas) and max_unavailable (healthy ones below replicas), each step
// gated on health (`running`: the agent reports it once the app's health check passes). A new instance
// that fails, or one not healthy within rollout_timeout_ms of the last step forward, rolls the app back
// to the revision the rollout started from, the same way; a rollback that fails too is `stuck`, and
// nothing more is replaced until the next deploy.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/messages.h"

namespace pier::registry {

// Whether instances started from `a` can go on serving `b`: what reaches an instance (its image, argv,
// environment, internal ports, limits) is the same. Replicas, external ports, routing, health checks and
// the autoscale policy are the load balancer's and pier-metrics' business and change no instance.
bool same_instances(const msg::AppSpec& a, const msg::AppSpec& b);

// Starts replacing `app`'s instances with those of its revision (the spec just deployed), from
// `from_revision`. Of app.revisions it keeps those `live_revisions` (the revisions its instances run)
// still need and the one a rollback returns to.
void begin_rollout(msg::AppRecord& app, int64_t from_revision, const std::set<int64_t>& live_revisions, int64_t now_ms);

struct Retirement {
  std::string id;
  std::string why;
  bool operator==(const Retirement&) const = default;
};

struct RolloutPlan {
  bool changed = false;            // false: nothing to do, `app` is the one given
  msg::AppRecord app;              // the app after this step: its rollout, and after a rollback its spec and revision
  std::vector<Retirement> retire;  // in this order
  int create = 0;                  // new instances of app.revision
  std::string rolled_back;         // why it rolls back, when this step started a rollback
  std::string stuck;               // why it is stuck, when this step found it so
  bool finished = false;           // this step ended the rollout (done or rolled_back)
};

// The step the rollout of `app` takes at `now_ms` (wall clock), given `instances`: the app's instances
// that count (not draining, not on a silent host), in serial order. When no rollout is under way the
// plan is unchanged.
RolloutPlan plan_rollout(const msg::AppRecord& app, const std::vector<msg::InstanceRecord>& instances, int64_t now_ms);

}  // namespace pier::registry
