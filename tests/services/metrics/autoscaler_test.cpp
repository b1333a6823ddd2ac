#include "services/metrics/autoscaler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <functional>

namespace pier::metrics {
namespace {

constexpr int64_t kSec = 1000;

// UTC ms of a civil time. 2024-01-01 is a Monday.
int64_t at(int y, unsigned m, unsigned d, int h = 0, int min = 0, int s = 0) {
  using namespace std::chrono;
  const sys_days day{year{y} / month{m} / d};
  return (day.time_since_epoch().count() * 86400LL + h * 3600 + min * 60 + s) * 1000;
}

const int64_t kNow = at(2024, 1, 3, 12);  // a Wednesday, noon UTC

TimeZone zone(const std::string& name) {
  auto z = load_time_zone(name);
  EXPECT_TRUE(z.ok()) << z.status().message();
  return z.ok() ? *z : TimeZone::utc();
}

msg::AutoscalePolicy cpu_policy() {
  msg::AutoscalePolicy p;
  p.enabled = true;
  p.min = 1;
  p.max = 10;
  p.targets = {{"cpu_percent", 50}};
  return p;  // windows 30 s up, 300 s down; cooldown 60 s; step 2; stale 30 s; pre-warm 120 s
}

// Samples every 2 s from `from` to `to` (inclusive); `cpu(t)` is the average per instance.
std::vector<AppSample> cpu_history(int64_t from, int64_t to, int instances, const std::function<double(int64_t)>& cpu) {
  std::vector<AppSample> out;
  for (int64_t t = from; t <= to; t += 2 * kSec) out.push_back({t, cpu(t), 0, 0, instances});
  return out;
}

std::vector<AppSample> steady_cpu(int instances, double cpu, int64_t span_ms = 600 * kSec) {
  return cpu_history(kNow - span_ms, kNow, instances, [cpu](int64_t) { return cpu; });
}

Decision decide_utc(const msg::AutoscalePolicy& p, int current, const std::vector<AppSample>& h,
                    const std::vector<Decision>& previous = {}, int64_t now = kNow) {
  return decide(p, TimeZone::utc(), current, h, previous, now);
}

// --- the reactive answer -------------------------------------------------------------------------

TEST(Autoscaler, RecommendationPerTarget) {
  auto p = cpu_policy();
  EXPECT_EQ(recommendation(p, {0, 100, 0, 0, 2}, 2), 4);  // 2 instances at 100 % for a 50 % target
  EXPECT_EQ(recommendation(p, {0, 50, 0, 0, 2}, 2), 2);   // exactly at target: no rounding up
  EXPECT_EQ(recommendation(p, {0, 51, 0, 0, 2}, 2), 3);
  EXPECT_EQ(recommendation(p, {0, 0, 0, 0, 2}, 2), 0);
  EXPECT_EQ(recommendation(p, {0, 100, 0, 0, 0}, 3), 6);  // no instance count in the sample: current
  p.targets = {{"requests_per_second", 100}};
  EXPECT_EQ(recommendation(p, {0, 0, 350, 0, 2}, 2), 4);  // 350 req/s total at 100 per instance
  p.targets = {{"p95_latency_ms", 100}};
  EXPECT_EQ(recommendation(p, {0, 0, 0, 250, 2}, 2), 5);
  p.targets = {{"cpu_percent", 50}, {"requests_per_second", 100}, {"p95_latency_ms", 100}};
  EXPECT_EQ(recommendation(p, {0, 10, 700, 20, 2}, 2), 7);  // the most demanding target wins
  p.targets.clear();
  EXPECT_EQ(recommendation(p, {0, 10, 700, 20, 2}, 2), -1);
}

TEST(Autoscaler, DisabledHolds) {
  auto p = cpu_policy();
  p.enabled = false;
  const Decision d = decide_utc(p, 3, steady_cpu(3, 100));
  EXPECT_EQ(d.desired, 3);
  EXPECT_EQ(d.rule, "disabled");
}

TEST(Autoscaler, SteadyLoadHolds) {
  const Decision d = decide_utc(cpu_policy(), 2, steady_cpu(2, 45));
  EXPECT_EQ(d.desired, 2);
  EXPECT_EQ(d.rule, "steady");
  EXPECT_EQ(d.inputs.at("answer.latest"), 2);
}

// --- stabilization ----------------------------------------------------------------------------

TEST(Autoscaler, ScalesUpWhenTheWholeUpWindowAgrees) {
  const Decision d = decide_utc(cpu_policy(), 2, steady_cpu(2, 100));
  EXPECT_EQ(d.desired, 4);
  EXPECT_EQ(d.rule, "scale-up");
  EXPECT_EQ(d.inputs.at("observed.cpu_percent"), 100);
  EXPECT_EQ(d.inputs.at("target.cpu_percent"), 50);
  EXPECT_NE(d.explanation.find("2 -> 4"), std::string::npos) << d.explanation;
}

TEST(Autoscaler, UpTakesTheLowestAnswerOfTheWindow) {
  // 35 s ago the load went to 3 instances' worth, 20 s ago to 4: the window agrees on 3 only.
  auto h = cpu_history(kNow - 600 * kSec, kNow, 2, [](int64_t t) {
    if (t >= kNow - 20 * kSec) return 100.0;
    if (t >= kNow - 35 * kSec) return 75.0;
    return 40.0;
  });
  const Decision d = decide_utc(cpu_policy(), 2, h);
  EXPECT_EQ(d.desired, 3);
  EXPECT_EQ(d.rule, "scale-up");
}

TEST(Autoscaler, ShortBurstDoesNotScaleUp) {
  auto h = cpu_history(kNow - 600 * kSec, kNow, 2, [](int64_t t) { return t >= kNow - 10 * kSec ? 100.0 : 40.0; });
  const Decision d = decide_utc(cpu_policy(), 2, h);
  EXPECT_EQ(d.desired, 2);
  EXPECT_EQ(d.rule, "up-window");
  EXPECT_EQ(d.inputs.at("answer.latest"), 4);
  EXPECT_EQ(d.inputs.at("answer.up_window_lowest"), 2);
}

TEST(Autoscaler, WindowNotWatchedWholeDoesNotScale) {
  // Metrics began 10 s ago (a restart): nobody saw the whole 30 s window.
  const Decision d = decide_utc(cpu_policy(), 2, steady_cpu(2, 100, 10 * kSec));
  EXPECT_EQ(d.desired, 2);
  EXPECT_EQ(d.rule, "up-window");
  EXPECT_NE(d.explanation.find("not watched"), std::string::npos) << d.explanation;
}

TEST(Autoscaler, ScalesDownOnlyAfterTheWholeDownWindow) {
  auto p = cpu_policy();
  // Low for 200 s only: still inside the 300 s down window.
  auto h = cpu_history(kNow - 600 * kSec, kNow, 4, [](int64_t t) { return t >= kNow - 200 * kSec ? 10.0 : 50.0; });
  Decision d = decide_utc(p, 4, h);
  EXPECT_EQ(d.desired, 4);
  EXPECT_EQ(d.rule, "down-window");
  // Low for 400 s: down, to the highest answer of the window (4 * 10 / 50 -> 1), limited to a step of 2.
  h = cpu_history(kNow - 600 * kSec, kNow, 4, [](int64_t t) { return t >= kNow - 400 * kSec ? 10.0 : 50.0; });
  d = decide_utc(p, 4, h);
  EXPECT_EQ(d.desired, 2);
  EXPECT_EQ(d.rule, "scale-down");
  EXPECT_NE(d.explanation.find("step"), std::string::npos) << d.explanation;
}

TEST(Autoscaler, DownTakesTheHighestAnswerOfTheWindow) {
  auto p = cpu_policy();
  p.max_step = 10;
  // 8 instances; 250 s ago a spike to 3 instances' worth, otherwise 1.
  auto h = cpu_history(kNow - 600 * kSec, kNow, 8,
                       [](int64_t t) { return (t >= kNow - 252 * kSec && t <= kNow - 248 * kSec) ? 18.0 : 5.0; });
  const Decision d = decide_utc(p, 8, h);
  EXPECT_EQ(d.desired, 3);
  EXPECT_EQ(d.rule, "scale-down");
}

TEST(Autoscaler, MaxStepLimitsEachDecision) {
  auto p = cpu_policy();
  const Decision d = decide_utc(p, 2, steady_cpu(2, 250));  // wants 10
  EXPECT_EQ(d.desired, 4);
  p.max_step = 5;
  EXPECT_EQ(decide_utc(p, 2, steady_cpu(2, 250)).desired, 7);
}

// --- cooldown ----------------------------------------------------------------------------------

TEST(Autoscaler, CooldownAfterTheLastChange) {
  const auto p = cpu_policy();
  const auto h = steady_cpu(4, 100);  // wants 8
  Decision last;
  last.time_ms = kNow - 30 * kSec;
  last.current = 2;
  last.desired = 4;
  Decision held;  // a later hold does not restart the cooldown
  held.time_ms = kNow - 10 * kSec;
  held.current = 4;
  held.desired = 4;
  Decision d = decide_utc(p, 4, h, {last, held});
  EXPECT_EQ(d.desired, 4);
  EXPECT_EQ(d.rule, "cooldown");
  EXPECT_DOUBLE_EQ(d.inputs.at("cooldown_remaining_s"), 30);
  last.time_ms = kNow - 60 * kSec;
  d = decide_utc(p, 4, h, {last, held});
  EXPECT_EQ(d.desired, 6);
  EXPECT_EQ(d.rule, "scale-up");
}

// --- bounds -----------------------------------------------------------------------------------

TEST(Autoscaler, ClampedToThePolicyBounds) {
  auto p = cpu_policy();
  Decision d = decide_utc(p, 10, steady_cpu(10, 100));  // wants 20, max 10
  EXPECT_EQ(d.desired, 10);
  EXPECT_EQ(d.rule, "at-max");
  d = decide_utc(p, 9, steady_cpu(9, 100));
  EXPECT_EQ(d.desired, 10);
  p.min = 2;
  d = decide_utc(p, 2, steady_cpu(2, 1));
  EXPECT_EQ(d.desired, 2);
  EXPECT_EQ(d.rule, "at-min");
}

TEST(Autoscaler, BoundsApplyAtOnceDespiteCooldownAndStep) {
  auto p = cpu_policy();
  p.min = 5;
  Decision recent;
  recent.time_ms = kNow - kSec;
  recent.current = 1;
  recent.desired = 2;
  Decision d = decide_utc(p, 0, steady_cpu(1, 0), {recent});
  EXPECT_EQ(d.desired, 5);
  EXPECT_EQ(d.rule, "floor");
  p.min = 1;
  p.max = 3;
  d = decide_utc(p, 9, steady_cpu(9, 50), {recent});
  EXPECT_EQ(d.desired, 3);
  EXPECT_EQ(d.rule, "ceiling");
}

// --- stale metrics -----------------------------------------------------------------------------

TEST(Autoscaler, StaleMetricsHoldAndNeverScaleDown) {
  auto p = cpu_policy();
  auto h = cpu_history(kNow - 600 * kSec, kNow - 32 * kSec, 6, [](int64_t) { return 1.0; });
  Decision d = decide_utc(p, 6, h);
  EXPECT_EQ(d.desired, 6);
  EXPECT_EQ(d.rule, "stale");
  EXPECT_DOUBLE_EQ(d.inputs.at("metrics_age_s"), 32);
  // 30 s old is not older than the limit: the same history 2 s earlier scales down.
  d = decide_utc(p, 6, h, {}, kNow - 2 * kSec);
  EXPECT_EQ(d.rule, "scale-down");
  // No metrics at all: hold too.
  d = decide_utc(p, 6, {});
  EXPECT_EQ(d.desired, 6);
  EXPECT_EQ(d.rule, "stale");
  // Above the max with stale metrics: still never down.
  p.max = 4;
  EXPECT_EQ(decide_utc(p, 6, h).desired, 6);
  // The floor still applies.
  p.min = 8;
  p.max = 10;
  d = decide_utc(p, 6, h);
  EXPECT_EQ(d.desired, 8);
  EXPECT_EQ(d.rule, "floor");
}

// --- schedule ---------------------------------------------------------------------------------

msg::AutoscalePeriod period(std::vector<std::string> days, int start, int end, int min, int max) {
  msg::AutoscalePeriod p;
  p.days = std::move(days);
  p.start_hour = start;
  p.end_hour = end;
  p.min = min;
  p.max = max;
  return p;
}

TEST(Autoscaler, SchedulePeriodBoundaries) {
  auto p = cpu_policy();
  p.schedule = {period({"mon", "tue", "wed", "thu", "fri"}, 9, 17, 4, 20)};
  const TimeZone utc = TimeZone::utc();
  EXPECT_EQ(bounds_at(p, utc, at(2024, 1, 1, 8, 59, 59)).period, "default");
  EXPECT_EQ(bounds_at(p, utc, at(2024, 1, 1, 9)).period, "schedule[0]");
  EXPECT_EQ(bounds_at(p, utc, at(2024, 1, 1, 9)).min, 4);
  EXPECT_EQ(bounds_at(p, utc, at(2024, 1, 1, 9)).max, 20);
  EXPECT_EQ(bounds_at(p, utc, at(2024, 1, 5, 16, 59, 59)).period, "schedule[0]");  // Friday
  EXPECT_EQ(bounds_at(p, utc, at(2024, 1, 5, 17)).period, "default");
  EXPECT_EQ(bounds_at(p, utc, at(2024, 1, 6, 10)).period, "default");  // Saturday
  EXPECT_EQ(bounds_at(p, utc, at(2024, 1, 6, 10)).min, 1);
}

TEST(Autoscaler, FirstActivePeriodWinsAndEqualHoursMeanAWholeDay) {
  auto p = cpu_policy();
  p.schedule = {period({"sat"}, 0, 0, 0, 2), period({}, 8, 20, 3, 6)};
  const TimeZone utc = TimeZone::utc();
  EXPECT_EQ(bounds_at(p, utc, at(2024, 1, 6, 12)).period, "schedule[0]");  // Saturday
  EXPECT_EQ(bounds_at(p, utc, at(2024, 1, 6, 23, 59)).period, "schedule[0]");
  EXPECT_EQ(bounds_at(p, utc, at(2024, 1, 7, 12)).period, "schedule[1]");  // Sunday
  EXPECT_EQ(bounds_at(p, utc, at(2024, 1, 7, 7, 59)).period, "default");
}

TEST(Autoscaler, PeriodWrappingMidnightBelongsToItsStartDay) {
  auto p = cpu_policy();
  p.schedule = {period({"fri"}, 22, 6, 3, 5)};
  const TimeZone utc = TimeZone::utc();
  EXPECT_EQ(bounds_at(p, utc, at(2024, 1, 5, 21, 59, 59)).period, "default");  // Friday
  EXPECT_EQ(bounds_at(p, utc, at(2024, 1, 5, 22)).period, "schedule[0]");
  EXPECT_EQ(bounds_at(p, utc, at(2024, 1, 6, 0)).period, "schedule[0]");  // Saturday, after midnight
  EXPECT_EQ(bounds_at(p, utc, at(2024, 1, 6, 5, 59, 59)).period, "schedule[0]");
  EXPECT_EQ(bounds_at(p, utc, at(2024, 1, 6, 6)).period, "default");
  EXPECT_EQ(bounds_at(p, utc, at(2024, 1, 6, 22)).period, "default");  // Saturday night: not listed
  EXPECT_EQ(bounds_at(p, utc, at(2024, 1, 5, 2)).period, "default");   // Friday early: Thursday's
}

TEST(Autoscaler, ScheduleInBerlinFollowsDst) {
  auto p = cpu_policy();
  p.timezone = "Europe/Berlin";
  p.schedule = {period({}, 9, 17, 5, 10)};
  const TimeZone berlin = zone("Europe/Berlin");
  // Winter: 09:00 CET is 08:00 UTC.
  EXPECT_EQ(bounds_at(p, berlin, at(2024, 1, 10, 7, 59, 59)).period, "default");
  EXPECT_EQ(bounds_at(p, berlin, at(2024, 1, 10, 8)).period, "schedule[0]");
  // The day DST starts (2024-03-31, 02:00 -> 03:00): 09:00 CEST is 07:00 UTC.
  EXPECT_EQ(bounds_at(p, berlin, at(2024, 3, 31, 6, 59, 59)).period, "default");
  EXPECT_EQ(bounds_at(p, berlin, at(2024, 3, 31, 7)).period, "schedule[0]");
  EXPECT_EQ(bounds_at(p, berlin, at(2024, 3, 31, 14, 59, 59)).period, "schedule[0]");
  EXPECT_EQ(bounds_at(p, berlin, at(2024, 3, 31, 15)).period, "default");
  // The floor applies through decide() the same way.
  const auto h = cpu_history(at(2024, 3, 31, 6, 50), at(2024, 3, 31, 7), 1, [](int64_t) { return 10.0; });
  auto no_prewarm = p;
  no_prewarm.prewarm_s = 0;
  EXPECT_EQ(decide(no_prewarm, berlin, 1, h, {}, at(2024, 3, 31, 7)).desired, 5);
  EXPECT_EQ(decide(no_prewarm, berlin, 1, h, {}, at(2024, 3, 31, 6, 59, 59)).desired, 1);
}

TEST(Autoscaler, ScheduleInNewYorkAcrossTheRepeatedHour) {
  auto p = cpu_policy();
  p.schedule = {period({"sun"}, 1, 3, 2, 4)};
  const TimeZone ny = zone("America/New_York");
  // 2024-11-03: 01:00-02:00 happens twice (EDT, then EST): the period lasts three real hours.
  EXPECT_EQ(bounds_at(p, ny, at(2024, 11, 3, 4, 59, 59)).period, "default");  // 00:59:59 EDT
  EXPECT_EQ(bounds_at(p, ny, at(2024, 11, 3, 5)).period, "schedule[0]");      // 01:00 EDT
  EXPECT_EQ(bounds_at(p, ny, at(2024, 11, 3, 6, 30)).period, "schedule[0]");  // 01:30 EST
  EXPECT_EQ(bounds_at(p, ny, at(2024, 11, 3, 7, 59)).period, "schedule[0]");  // 02:59 EST
  EXPECT_EQ(bounds_at(p, ny, at(2024, 11, 3, 8)).period, "default");          // 03:00 EST
}

// --- pre-warm ---------------------------------------------------------------------------------

TEST(Autoscaler, PrewarmRaisesTheFloorBeforeThePeriod) {
  auto p = cpu_policy();
  p.schedule = {period({}, 9, 17, 4, 8)};
  const auto low = [&](int64_t now) { return cpu_history(now - 600 * kSec, now, 1, [](int64_t) { return 10.0; }); };
  const int64_t start = at(2024, 1, 3, 9);
  Decision d = decide_utc(p, 1, low(start - 121 * kSec), {}, start - 121 * kSec);
  EXPECT_EQ(d.desired, 1);
  EXPECT_EQ(d.rule, "steady");
  d = decide_utc(p, 1, low(start - 120 * kSec), {}, start - 120 * kSec);
  EXPECT_EQ(d.desired, 4);
  EXPECT_EQ(d.rule, "floor");
  EXPECT_NE(d.explanation.find("pre-warm: schedule[0]"), std::string::npos) << d.explanation;
  d = decide_utc(p, 1, low(start - 90 * kSec), {}, start - 90 * kSec);
  EXPECT_EQ(d.desired, 4);
  // Once raised, the low load does not take it back before the period starts.
  d = decide_utc(p, 4, low(start - 60 * kSec), {}, start - 60 * kSec);
  EXPECT_EQ(d.desired, 4);
  EXPECT_EQ(d.rule, "at-min");
  // Off: the floor arrives with the period.
  p.prewarm_s = 0;
  EXPECT_EQ(decide_utc(p, 1, low(start - kSec), {}, start - kSec).desired, 1);
  EXPECT_EQ(decide_utc(p, 1, low(start), {}, start).desired, 4);
}

TEST(Autoscaler, PrewarmInAZoneOnTheDstDay) {
  auto p = cpu_policy();
  p.timezone = "Europe/Berlin";
  p.schedule = {period({"sun"}, 9, 12, 6, 8)};
  const TimeZone berlin = zone("Europe/Berlin");
  EXPECT_EQ(bounds_with_prewarm(p, berlin, at(2024, 3, 31, 6, 58)).min, 6);  // 08:58 CEST
  EXPECT_EQ(bounds_with_prewarm(p, berlin, at(2024, 3, 31, 6, 57, 59)).min, 1);
  EXPECT_EQ(bounds_with_prewarm(p, berlin, at(2024, 3, 31, 6, 57, 59)).prewarm, "");
}

TEST(Autoscaler, ScheduleOnlyPolicy) {
  msg::AutoscalePolicy p;
  p.enabled = true;
  p.min = 1;
  p.max = 2;
  p.schedule = {period({}, 9, 17, 3, 3)};
  Decision d = decide_utc(p, 1, {}, {}, at(2024, 1, 3, 8));  // no metrics needed
  EXPECT_EQ(d.desired, 1);
  EXPECT_EQ(d.rule, "schedule");
  EXPECT_EQ(decide_utc(p, 1, {}, {}, at(2024, 1, 3, 10)).desired, 3);
  d = decide_utc(p, 3, {}, {}, at(2024, 1, 3, 17));
  EXPECT_EQ(d.desired, 2);
  EXPECT_EQ(d.rule, "ceiling");
}

// --- scale-in victims ---------------------------------------------------------------------------

TEST(Autoscaler, LeastBusyPicksFewestSessionsNewestFirst) {
  const std::vector<InstanceLoad> loads = {{"web-1", 5}, {"web-2", 0}, {"web-9", 2}, {"web-3", 0}, {"web-10", 2}};
  EXPECT_EQ(least_busy(loads, 2), (std::vector<std::string>{"web-3", "web-2"}));
  EXPECT_EQ(least_busy(loads, 3), (std::vector<std::string>{"web-3", "web-2", "web-10"}));  // 10 is newer than 9
  EXPECT_EQ(least_busy(loads, 9).size(), 5u);
  EXPECT_TRUE(least_busy(loads, 0).empty());
  EXPECT_TRUE(least_busy(loads, -1).empty());
  EXPECT_TRUE(least_busy({}, 3).empty());
}

// --- simulation ---------------------------------------------------------------------------------

struct SimulatedHour {
  int changes = 0;
  int final_replicas = 0;
  int64_t first_change_ms = -1;
};

// An hour from kNow: a sample every 2 s (CPU spread over the instances running then), a decision
// every 10 s applied at once. `load(t)` is the total CPU in % of one core.
SimulatedHour simulate(const msg::AutoscalePolicy& p, int replicas, const std::function<double(int64_t)>& load) {
  SimulatedHour run;
  std::vector<AppSample> history;
  std::vector<Decision> decisions;
  for (int64_t t = kNow; t <= kNow + 3600 * kSec; t += 2 * kSec) {
    history.push_back({t, replicas > 0 ? load(t) / replicas : 0, 0, 0, replicas});
    if ((t - kNow) % (10 * kSec) != 0) continue;
    const Decision d = decide(p, TimeZone::utc(), replicas, history, decisions, t);
    if (d.desired != replicas) {
      ++run.changes;
      if (run.first_change_ms < 0) run.first_change_ms = t - kNow;
    }
    replicas = d.desired;
    decisions.push_back(d);
  }
  run.final_replicas = replicas;
  return run;
}

TEST(Autoscaler, SquareWaveShorterThanTheWindowsDoesNotFlap) {
  // 20 s at 6 instances' worth, 20 s at 1, for an hour: a 40 s period, beyond the 30 s up window.
  const auto square = [](int64_t t) { return ((t - kNow) / (20 * kSec)) % 2 == 0 ? 300.0 : 50.0; };
  const SimulatedHour stable = simulate(cpu_policy(), 3, square);
  EXPECT_EQ(stable.changes, 0);
  EXPECT_EQ(stable.final_replicas, 3);
  // The harness does see flapping: without windows and cooldown the same load flaps all hour.
  auto naive = cpu_policy();
  naive.up_window_s = 0;
  naive.down_window_s = 0;
  naive.cooldown_s = 0;
  naive.max_step = 10;
  EXPECT_GT(simulate(naive, 3, square).changes, 100);
}

TEST(Autoscaler, SustainedStepScalesUpInStepsAndSettles) {
  // 50 % of a core for 10 minutes, then 400 % (8 instances' worth at 50 %).
  const auto step = [](int64_t t) { return t >= kNow + 600 * kSec ? 400.0 : 50.0; };
  const SimulatedHour run = simulate(cpu_policy(), 1, step);
  EXPECT_EQ(run.first_change_ms, 630 * kSec);  // the up window after the step
  EXPECT_EQ(run.changes, 4);                   // 1 -> 3 -> 5 -> 7 -> 8, a cooldown apart
  EXPECT_EQ(run.final_replicas, 8);
}

TEST(Autoscaler, TargetsOnFiguresNotMeasuredHaveNoSay) {
  const double absent = std::nan("");
  msg::AutoscalePolicy p = cpu_policy();
  p.targets = {{"cpu_percent", 50}, {"requests_per_second", 100}};
  std::vector<AppSample> h;
  for (int64_t t = kNow - 600 * kSec; t <= kNow; t += 2 * kSec) h.push_back({t, 100, absent, absent, 2});
  EXPECT_EQ(recommendation(p, h.back(), 2), 4) << "CPU alone answers";
  Decision d = decide_utc(p, 2, h);
  EXPECT_EQ(d.rule, "scale-up");
  EXPECT_EQ(d.inputs.count("observed.requests_per_second"), 0u);

  // A policy on request rate alone, with rates never measured: as good as no metrics, so it holds.
  p.targets = {{"requests_per_second", 100}};
  EXPECT_EQ(recommendation(p, h.back(), 4), -1);
  d = decide_utc(p, 4, h);
  EXPECT_EQ(d.rule, "stale");
  EXPECT_EQ(d.desired, 4);
}

}  // namespace
}  // namespace pier::metrics
