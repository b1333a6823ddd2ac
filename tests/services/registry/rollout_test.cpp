// The rollout planner as a pure function: tables of app + instances + time -> plan, and the limits every
// plan keeps over a sweep of shapes. No store, no registry.
#include "services/registry/rollout.h"

#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "common/states.h"

namespace pier::registry {
namespace {

constexpr int64_t kOld = 1, kNew = 2;
constexpr int64_t kStart = 1'000'000;

msg::AppSpec spec(const std::string& tag, int replicas, int surge, int unavailable) {
  msg::AppSpec s;
  s.name = "web";
  s.image = "pier/demo-app";
  s.tag = tag;
  s.replicas = replicas;
  s.max_surge = surge;
  s.max_unavailable = unavailable;
  s.rollout_timeout_ms = 10'000;
  return s;
}

// web rolling from revision 1 (0.1.0) to revision 2 (0.2.0), started at kStart.
msg::AppRecord rolling(int replicas, int surge = 1, int unavailable = 0) {
  msg::AppRecord app;
  app.spec = spec("0.2.0", replicas, surge, unavailable);
  app.revision = kNew;
  app.revisions = {{kOld, spec("0.1.0", replicas, surge, unavailable)}};
  begin_rollout(app, kOld, {kOld}, kStart);
  return app;
}

// Instances from a compact list: "o:running n:starting ..." (o: revision 1, n: revision 2), ids web-1...
std::vector<msg::InstanceRecord> instances(const std::string& list) {
  std::vector<msg::InstanceRecord> out;
  std::istringstream in(list);
  for (std::string item; in >> item;) {
    msg::InstanceRecord i;
    i.id = states::instance_id("web", static_cast<int64_t>(out.size()) + 1);
    i.app = "web";
    i.revision = item[0] == 'o' ? kOld : kNew;
    i.state = item.substr(2);
    i.host = "h1";
    out.push_back(i);
  }
  return out;
}

std::vector<std::string> retired(const RolloutPlan& plan) {
  std::vector<std::string> ids;
  for (const auto& r : plan.retire) ids.push_back(r.id);
  return ids;
}

struct Case {
  const char* name;
  int replicas, surge, unavailable;
  const char* instances;
  int64_t elapsed_ms;  // since the rollout's last step forward
  // Expected:
  std::vector<std::string> retire;
  int create;
  const char* state;  // the rollout's after the step
  int64_t revision;   // the app's after the step
};

class RolloutTable : public ::testing::TestWithParam<Case> {};

TEST_P(RolloutTable, Plans) {
  const Case& c = GetParam();
  const auto plan =
      plan_rollout(rolling(c.replicas, c.surge, c.unavailable), instances(c.instances), kStart + c.elapsed_ms);
  EXPECT_EQ(retired(plan), c.retire);
  EXPECT_EQ(plan.create, c.create);
  EXPECT_EQ(plan.app.rollout.state, c.state);
  EXPECT_EQ(plan.app.revision, c.revision);
}

const char* kRolling = states::rollout::kRolling;
const char* kRollingBack = states::rollout::kRollingBack;
const char* kRolledBack = states::rollout::kRolledBack;

INSTANTIATE_TEST_SUITE_P(
    Steps, RolloutTable,
    ::testing::Values(
        Case{"FirstStepSurgesOne", 2, 1, 0, "o:running o:running", 0, {}, 1, kRolling, kNew},
        Case{"NoSurgeNoUnavailableCannotMove", 2, 0, 0, "o:running o:running", 0, {}, 0, kRolling, kNew},
        Case{"UnavailableLetsTheOldestGoFirst",
             3,
             0,
             1,
             "o:running o:running o:running",
             0,
             {"web-1"},
             1,
             kRolling,
             kNew},
        Case{"StartingIsNotHealthy", 2, 1, 0, "o:running o:running n:starting", 0, {}, 0, kRolling, kNew},
        Case{
            "AHealthyNewOneRetiresAnOldOne", 2, 1, 0, "o:running o:running n:running", 0, {"web-1"}, 1, kRolling, kNew},
        Case{"OldOnesServingNobodyGoAtOnce", 2, 1, 0, "o:failed o:running", 0, {"web-1"}, 2, kRolling, kNew},
        Case{"LastStepEndsIt", 2, 1, 0, "o:running n:running n:running", 0, {"web-1"}, 0, states::rollout::kDone, kNew},
        Case{"ScaledInDuringTheRolloutTheNewestUnhealthyGoFirst",
             1,
             1,
             0,
             "o:running n:running n:pending",
             0,
             {"web-1", "web-3"},
             0,
             states::rollout::kDone,
             kNew},
        // Back on the old instances, still healthy: the rollback ends in the step that starts it.
        Case{"AFailedNewOneRollsBack", 2, 1, 0, "o:running o:running n:failed", 0, {"web-3"}, 0, kRolledBack, kOld},
        Case{"NotHealthyInTimeRollsBack",
             2,
             1,
             0,
             "o:running o:running n:starting",
             10'000,
             {"web-3"},
             0,
             kRolledBack,
             kOld},
        Case{"JustBeforeTheTimeoutItWaits", 2, 1, 0, "o:running o:running n:starting", 9'999, {}, 0, kRolling, kNew},
        Case{"RollingBackBringsTheOldCountBack",
             2,
             1,
             0,
             "o:running n:failed n:running",
             0,
             {"web-2"},
             1,
             kRollingBack,
             kOld}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(RolloutPlan, NothingUnderWayPlansNothing) {
  msg::AppRecord app = rolling(2);
  app.rollout.state = states::rollout::kDone;
  const auto plan = plan_rollout(app, instances("n:running n:running"), kStart);
  EXPECT_FALSE(plan.changed);
  EXPECT_TRUE(plan.retire.empty());
  EXPECT_EQ(plan.create, 0);
}

TEST(RolloutPlan, AFewerReadyCountAloneIsNoChange) {
  msg::AppRecord app = rolling(2);
  app.rollout.ready = 1;  // the new instance that was healthy stopped answering
  const auto plan = plan_rollout(app, instances("o:running o:running n:starting"), kStart);
  EXPECT_FALSE(plan.changed);
  EXPECT_EQ(plan.app.rollout.ready, 1) << "an unchanged plan hands back the app as given";
}

TEST(RolloutPlan, ARollbackThatFailsTooIsStuckAndSaysWhy) {
  msg::AppRecord app = rolling(1);
  const auto back = plan_rollout(app, instances("o:starting n:failed"), kStart);
  ASSERT_EQ(back.app.rollout.state, kRollingBack);
  EXPECT_EQ(back.rolled_back, "revision 2: instance web-2 failed: ");
  const auto stuck = plan_rollout(back.app, instances("o:failed"), kStart);
  EXPECT_EQ(stuck.app.rollout.state, states::rollout::kStuck);
  EXPECT_NE(stuck.stuck.find("rollback to revision 1 did not complete: instance web-1 failed"), std::string::npos)
      << stuck.stuck;
  EXPECT_FALSE(plan_rollout(stuck.app, instances("o:failed"), kStart + 60'000).changed) << "stuck stays put";
}

TEST(RolloutPlan, BeginKeepsOnlyTheRevisionsStillNeeded) {
  msg::AppRecord app;
  app.spec = spec("0.4.0", 2, 1, 0);
  app.revision = 4;
  app.revisions = {{1, spec("0.1.0", 2, 1, 0)}, {2, spec("0.2.0", 2, 1, 0)}, {3, spec("0.3.0", 2, 1, 0)}};
  begin_rollout(app, 2, {3}, kStart);
  ASSERT_EQ(app.revisions.size(), 2u);
  EXPECT_EQ(app.revisions[0].revision, 2) << "the one a rollback returns to";
  EXPECT_EQ(app.revisions[1].revision, 3) << "one instances still run";
  EXPECT_EQ(app.rollout.from_revision, 2);
  EXPECT_EQ(app.rollout.to_revision, 4);
}

// Over every shape of a small rollout (replicas, surge, unavailable, how many old and new instances and
// in which state), each plan keeps the rollout's promises.
TEST(RolloutPlan, EveryStepKeepsItsBounds) {
  const char* kStates[] = {"running", "starting", "pending"};
  int cases = 0;
  for (int replicas = 1; replicas <= 4; ++replicas)
    for (int surge = 0; surge <= 2; ++surge)
      for (int unavailable = 0; unavailable <= 2; ++unavailable)
        for (int old = 0; old <= replicas; ++old)
          for (int fresh = 0; fresh <= replicas; ++fresh)
            for (const char* old_state : kStates)
              for (const char* fresh_state : kStates) {
                std::string list;
                for (int i = 0; i < old; ++i) list += std::string("o:") + old_state + " ";
                for (int i = 0; i < fresh; ++i) list += std::string("n:") + fresh_state + " ";
                const auto all = instances(list);
                const auto plan = plan_rollout(rolling(replicas, surge, unavailable), all, kStart);
                ++cases;
                SCOPED_TRACE("replicas " + std::to_string(replicas) + " surge " + std::to_string(surge) +
                             " unavailable " + std::to_string(unavailable) + ": " + list);
                std::set<std::string> gone;
                for (const auto& r : plan.retire) gone.insert(r.id);
                ASSERT_EQ(gone.size(), plan.retire.size()) << "an instance retired twice";
                int healthy_before = 0, healthy_after = 0, old_left = 0, fresh_left = 0;
                for (const auto& i : all) {
                  const bool healthy = i.state == states::instance::kRunning;
                  healthy_before += healthy;
                  if (gone.count(i.id)) continue;
                  healthy_after += healthy;
                  (i.revision == kOld ? old_left : fresh_left) += 1;
                }
                // Never below replicas - unavailable healthy through its own retirements (what was
                // below already stays: a rollout does not make it worse).
                const int floor = std::min(healthy_before, std::max(0, replicas - unavailable));
                EXPECT_GE(healthy_after, floor);
                // Never beyond replicas + surge through its own creations.
                if (plan.create > 0) {
                  EXPECT_LE(old_left + fresh_left + plan.create, replicas + surge);
                }
                EXPECT_LE(fresh_left + plan.create, std::max(replicas, fresh)) << "no new instance beyond replicas";
                if (plan.app.rollout.state == states::rollout::kDone) {
                  EXPECT_EQ(old_left, 0);
                }
              }
  EXPECT_GT(cases, 500);
}

}  // namespace
}  // namespace pier::registry
