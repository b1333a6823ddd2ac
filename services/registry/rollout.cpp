#include "services/registry/rollout.h"

#include <algorithm>

#include "common/states.h"

namespace pier::registry {
namespace {

namespace rollout_state = states::rollout;

bool healthy(const msg::InstanceRecord& i) { return i.state == states::instance::kRunning; }

// Why the new instances failed the rollout, or "" when they did not (yet).
std::string failure(const msg::AppRecord& app, const std::vector<const msg::InstanceRecord*>& fresh, int64_t now_ms) {
  for (const auto* i : fresh)
    if (i->state == states::instance::kFailed) return "instance " + i->id + " failed: " + i->reason;
  if (now_ms - app.rollout.progress_ms < app.spec.rollout_timeout_ms) return "";
  for (const auto* i : fresh) {
    if (healthy(*i)) continue;
    return "instance " + i->id + " not healthy within " + std::to_string(app.spec.rollout_timeout_ms / 1000) + " s (" +
           i->state + (i->reason.empty() ? "" : ": " + i->reason) + ")";
  }
  return "";
}

}  // namespace

bool same_instances(const msg::AppSpec& a, const msg::AppSpec& b) {
  // What an instance listens on: the first internal port (its PORT) and the set of them. Another
  // external port onto the same internal one changes only the load balancer.
  const auto internal_ports = [](const msg::AppSpec& s) {
    std::set<int> all;
    for (const auto& p : s.ports) all.insert(p.internal);
    return std::pair{s.ports.empty() ? 0 : s.ports[0].internal, all};
  };
  return a.image == b.image && a.tag == b.tag && a.command == b.command && a.env == b.env && a.cpu == b.cpu &&
         a.memory_bytes == b.memory_bytes && internal_ports(a) == internal_ports(b);
}

void begin_rollout(msg::AppRecord& app, int64_t from_revision, const std::set<int64_t>& live_revisions,
                   int64_t now_ms) {
  // Specs no live instance runs any more are forgotten, except the one a rollback would return to.
  std::erase_if(app.revisions, [&](const msg::AppRevision& r) {
    return (r.revision != from_revision && !live_revisions.count(r.revision)) || r.revision == app.revision;
  });
  app.rollout = msg::Rollout{};
  app.rollout.state = rollout_state::kRolling;
  app.rollout.from_revision = from_revision;
  app.rollout.to_revision = app.revision;
  app.rollout.started_ms = now_ms;
  app.rollout.progress_ms = now_ms;
}

RolloutPlan plan_rollout(const msg::AppRecord& given, const std::vector<msg::InstanceRecord>& instances,
                         int64_t now_ms) {
  RolloutPlan plan;
  plan.app = given;
  msg::AppRecord& app = plan.app;
  msg::Rollout& rollout = app.rollout;
  if (!rollout.under_way()) return plan;
  std::vector<const msg::InstanceRecord*> fresh, old;  // fresh: of app.revision; old: of any other revision
  for (const auto& i : instances) (i.revision == app.revision ? fresh : old).push_back(&i);
  const int desired = app.spec.replicas;
  const int fresh_ready =
      static_cast<int>(std::count_if(fresh.begin(), fresh.end(), [](auto* i) { return healthy(*i); }));
  if (fresh_ready > rollout.ready) {
    rollout.progress_ms = now_ms;
    plan.changed = true;
  }
  rollout.ready = fresh_ready;

  if (const std::string failed = failure(app, fresh, now_ms); !failed.empty()) {
    plan.changed = true;
    const auto back = std::find_if(app.revisions.begin(), app.revisions.end(),
                                   [&](const msg::AppRevision& r) { return r.revision == rollout.from_revision; });
    if (rollout.state == rollout_state::kRollingBack || back == app.revisions.end()) {
      rollout.reason = (rollout.state == rollout_state::kRollingBack
                            ? "rollback to revision " + std::to_string(app.revision) + " did not complete: "
                            : "") +
                       failed + (rollout.reason.empty() ? "" : "; " + rollout.reason);
      rollout.state = rollout_state::kStuck;
      plan.stuck = rollout.reason;
      return plan;
    }
    // Back to the spec it started from, keeping today's replicas (scaling is not part of a revision).
    msg::AppRevision failed_revision{app.revision, app.spec};
    app.spec = back->spec;
    app.spec.replicas = failed_revision.spec.replicas;
    app.revision = back->revision;
    app.revisions.erase(back);
    app.revisions.push_back(std::move(failed_revision));
    rollout.state = rollout_state::kRollingBack;
    rollout.reason = "revision " + std::to_string(rollout.to_revision) + ": " + failed;
    rollout.from_revision = rollout.to_revision;
    rollout.to_revision = app.revision;
    rollout.progress_ms = now_ms;
    rollout.ready = 0;
    // The rollback's first step, at once: the same instances, seen from the revision it returns to.
    RolloutPlan back_plan = plan_rollout(app, instances, now_ms);
    back_plan.changed = true;
    back_plan.rolled_back = rollout.reason;
    return back_plan;
  }

  const std::string why = "replaced by revision " + std::to_string(app.revision);
  // Old instances that serve nobody go first: retiring them costs no capacity.
  std::vector<const msg::InstanceRecord*> old_ready;
  for (const auto* i : old) {
    if (healthy(*i)) {
      old_ready.push_back(i);
      continue;
    }
    plan.retire.push_back({i->id, why});
  }
  // Then healthy old ones, oldest first, while the healthy ones left stay at least replicas - max_unavailable.
  const int min_available = std::max(0, desired - app.spec.max_unavailable);
  int available = static_cast<int>(old_ready.size()) + fresh_ready;
  std::size_t retired = 0;
  while (retired < old_ready.size() && available - 1 >= min_available) {
    plan.retire.push_back({old_ready[retired++]->id, why});
    --available;
  }
  const int old_left = static_cast<int>(old_ready.size() - retired);
  // More new instances, within replicas + max_surge in all.
  const int fresh_count = static_cast<int>(fresh.size());
  const int add = std::min(desired - fresh_count, desired + app.spec.max_surge - old_left - fresh_count);
  if (add > 0) {
    plan.create = add;
    rollout.progress_ms = now_ms;  // the new ones' time to become healthy starts now
  }
  if (fresh_count > desired) {  // scaled in during the rollout: unhealthy ones first, then the newest
    std::stable_partition(fresh.begin(), fresh.end(), [](auto* i) { return healthy(*i); });
    for (int i = 0; i < fresh_count - desired; ++i)
      plan.retire.push_back({fresh[fresh.size() - 1 - i]->id, "scale-in"});
  }
  if (old_left == 0 && fresh_ready >= desired) {
    rollout.state = rollout.state == rollout_state::kRolling ? rollout_state::kDone : rollout_state::kRolledBack;
    app.revisions.clear();
    plan.finished = true;
  }
  plan.changed = plan.changed || !plan.retire.empty() || plan.create > 0 || plan.finished;
  if (!plan.changed) plan.app = given;  // a lower `ready` alone is not worth a revision
  return plan;
}

}  // namespace pier::registry
