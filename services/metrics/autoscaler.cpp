#include "services/metrics/autoscaler.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>

#include "common/states.h"

namespace pier::metrics {
namespace {

// Rules, in the order decide() tries them.
constexpr const char* kRuleDisabled = "disabled";       // policy off: hold
constexpr const char* kRuleFloor = "floor";             // below the period's min (or a coming one's): raise now
constexpr const char* kRuleCeiling = "ceiling";         // above the period's max: lower now
constexpr const char* kRuleSchedule = "schedule";       // no load targets, within bounds: hold
constexpr const char* kRuleStale = "stale";             // metrics missing or too old: hold, never scale down
constexpr const char* kRuleSteady = "steady";           // load answers the current count
constexpr const char* kRuleUpWindow = "up-window";      // load says up, but not for the whole up window
constexpr const char* kRuleDownWindow = "down-window";  // load says down, but not for the whole down window
constexpr const char* kRuleAtMax = "at-max";            // load says up, the period's max says no
constexpr const char* kRuleAtMin = "at-min";            // load says down, the period's min says no
constexpr const char* kRuleCooldown = "cooldown";       // a change is due but the last one is too recent
constexpr const char* kRuleScaleUp = "scale-up";
constexpr const char* kRuleScaleDown = "scale-down";

constexpr int64_t kDay = 86400;
constexpr int kMaxAnswer = 100000;  // far above any replica bound: keeps the arithmetic in int

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

const char* day_name(unsigned c_encoding) {
  static const char* const kNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
  return kNames[c_encoding % 7];
}

bool runs_on(const msg::AutoscalePeriod& period, int64_t local_day) {
  if (period.days.empty()) return true;
  const unsigned wd = std::chrono::weekday{std::chrono::sys_days{std::chrono::days{local_day}}}.c_encoding();
  return std::find(period.days.begin(), period.days.end(), day_name(wd)) != period.days.end();
}

// A period that wraps midnight belongs to the day it starts on: "fri 22 -> 6" covers Saturday 00-06.
bool active(const msg::AutoscalePeriod& period, int64_t local_s) {
  const int64_t day = floor_div(local_s, kDay);
  const int hour = static_cast<int>((local_s - day * kDay) / 3600);
  if (period.start_hour < period.end_hour)
    return hour >= period.start_hour && hour < period.end_hour && runs_on(period, day);
  return (hour >= period.start_hour && runs_on(period, day)) || (hour < period.end_hour && runs_on(period, day - 1));
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

std::string seconds(int64_t ms) { return fmt(static_cast<double>(ms) / 1000.0) + " s"; }

// Lowest (or highest) answer over the window [now - window, now]: the samples inside it and the one
// in force when it began. `covered` is false when no sample is that old: the window was not watched
// whole, so it cannot have said anything "for the whole window".
struct WindowAnswer {
  bool covered = false;
  int lowest = std::numeric_limits<int>::max();
  int highest = std::numeric_limits<int>::min();
};

WindowAnswer over_window(const std::vector<AppSample>& sorted, const std::vector<int>& answers, int64_t now_ms,
                         int window_s) {
  WindowAnswer w;
  const int64_t start = now_ms - int64_t{window_s} * 1000;
  const auto first_inside = std::upper_bound(sorted.begin(), sorted.end(), start,
                                             [](int64_t t, const AppSample& s) { return t < s.time_ms; });
  auto from = first_inside;
  if (from != sorted.begin()) {
    w.covered = true;
    --from;  // the sample in force at the window's start
  }
  for (auto it = from; it != sorted.end(); ++it) {
    const int a = answers[static_cast<std::size_t>(it - sorted.begin())];
    w.lowest = std::min(w.lowest, a);
    w.highest = std::max(w.highest, a);
  }
  return w;
}

double figure_of(const AppSample& sample, const std::string& metric) {
  if (metric == "cpu_percent") return sample.cpu_percent;
  if (metric == "requests_per_second") return sample.requests_per_second;
  if (metric == "p95_latency_ms") return sample.p95_latency_ms;
  return std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

Bounds bounds_at(const msg::AutoscalePolicy& policy, const TimeZone& zone, int64_t utc_ms) {
  const int64_t local_s = zone.to_local_s(floor_div(utc_ms, 1000));
  for (std::size_t i = 0; i < policy.schedule.size(); ++i)
    if (active(policy.schedule[i], local_s))
      return {policy.schedule[i].min, policy.schedule[i].max, "schedule[" + std::to_string(i) + "]", ""};
  return {policy.min, policy.max, "default", ""};
}

// Periods start on whole local hours and last at least an hour, so looking once a minute (and at the
// end of the pre-warm span) finds every period that starts within it, across offset changes too.
Bounds bounds_with_prewarm(const msg::AutoscalePolicy& policy, const TimeZone& zone, int64_t now_ms) {
  Bounds bounds = bounds_at(policy, zone, now_ms);
  if (policy.prewarm_s <= 0 || policy.schedule.empty()) return bounds;
  const int64_t end = now_ms + int64_t{policy.prewarm_s} * 1000;
  for (int64_t t = now_ms + 60000;; t += 60000) {
    const int64_t at = std::min(t, end);
    const Bounds coming = bounds_at(policy, zone, at);
    if (coming.min > bounds.min) {
      bounds.min = coming.min;
      bounds.prewarm = coming.period;
    }
    if (at == end) break;
  }
  bounds.max = std::max(bounds.max, bounds.min);
  return bounds;
}

int recommendation(const msg::AutoscalePolicy& policy, const AppSample& sample, int current) {
  if (policy.targets.empty()) return -1;
  const double n = sample.instances > 0 ? sample.instances : std::max(current, 0);
  const auto sane = [](double v) { return std::isfinite(v) && v > 0 ? v : 0.0; };
  double best = 0;
  bool measured = false;
  for (const auto& target : policy.targets) {
    const double figure = figure_of(sample, target.metric);
    if (std::isnan(figure)) continue;  // not measured: this target has no say
    measured = true;
    double load = 0;  // in instances' worth at the target
    if (target.metric == "requests_per_second")
      load = sane(figure) / target.value;
    else
      load = n * sane(figure) / target.value;
    best = std::max(best, load);
  }
  if (!measured) return -1;
  // 1e-9 keeps 2 * 60 / 60 at 2 despite rounding; the cap keeps absurd figures in int range.
  return static_cast<int>(std::min<double>(std::ceil(best - 1e-9), kMaxAnswer));
}

Decision decide(const msg::AutoscalePolicy& policy, const TimeZone& zone, int current,
                const std::vector<AppSample>& history, const std::vector<Decision>& previous, int64_t now_ms) {
  Decision d;
  d.time_ms = now_ms;
  d.current = current;
  d.desired = current;
  d.inputs["current"] = current;
  const auto finish = [&](const char* rule, int desired, std::string why) {
    d.rule = rule;
    d.desired = desired;
    d.explanation = std::to_string(current) + " -> " + std::to_string(desired) + " (" + rule + "): " + why;
    return d;
  };
  if (!policy.enabled) return finish(kRuleDisabled, current, "autoscaling is off for this app");

  const Bounds bounds = bounds_with_prewarm(policy, zone, now_ms);
  d.inputs["min"] = bounds.min;
  d.inputs["max"] = bounds.max;
  const std::string where = bounds.period == "default" ? "the policy" : bounds.period + " (" + zone.name() + ")";

  // The schedule's bounds are the operator's word: they apply at once, past windows, cooldown and step.
  if (current < bounds.min) {
    if (!bounds.prewarm.empty())
      return finish(kRuleFloor, bounds.min,
                    "pre-warm: " + bounds.prewarm + " starts within " + std::to_string(policy.prewarm_s) +
                        " s and needs at least " + std::to_string(bounds.min));
    return finish(kRuleFloor, bounds.min, "below the min " + std::to_string(bounds.min) + " of " + where);
  }

  // Samples that measured none of the policy's metrics (NaN) say nothing about its load.
  std::vector<AppSample> sorted;
  for (const auto& s : history)
    if (policy.targets.empty() || recommendation(policy, s, current) >= 0) sorted.push_back(s);
  std::sort(sorted.begin(), sorted.end(), [](const AppSample& a, const AppSample& b) { return a.time_ms < b.time_ms; });
  const bool by_load = !policy.targets.empty();
  const bool stale =
      by_load && (sorted.empty() || sorted.back().time_ms < now_ms - int64_t{policy.stale_after_s} * 1000);
  if (!sorted.empty()) d.inputs["metrics_age_s"] = static_cast<double>(now_ms - sorted.back().time_ms) / 1000.0;

  if (current > bounds.max && !stale)
    return finish(kRuleCeiling, bounds.max, "above the max " + std::to_string(bounds.max) + " of " + where);
  if (!by_load)
    return finish(
        kRuleSchedule, current,
        "no load targets; within [" + std::to_string(bounds.min) + ", " + std::to_string(bounds.max) + "] of " + where);
  if (stale) {
    if (sorted.empty()) return finish(kRuleStale, current, "no metrics yet: holding (never scaling down blind)");
    return finish(kRuleStale, current,
                  "newest metrics are " + seconds(now_ms - sorted.back().time_ms) + " old (limit " +
                      std::to_string(policy.stale_after_s) + " s): holding, never scaling down blind");
  }

  const AppSample& newest = sorted.back();
  for (const auto& target : policy.targets) {
    d.inputs["target." + target.metric] = target.value;
    double observed = figure_of(newest, target.metric);
    if (std::isnan(observed)) continue;
    if (target.metric == "requests_per_second" && newest.instances > 0) observed /= newest.instances;
    d.inputs["observed." + target.metric] = observed;
  }
  std::vector<int> answers;
  answers.reserve(sorted.size());
  for (const auto& s : sorted) answers.push_back(recommendation(policy, s, current));
  const int latest = answers.back();
  const WindowAnswer up = over_window(sorted, answers, now_ms, policy.up_window_s);
  const WindowAnswer down = over_window(sorted, answers, now_ms, policy.down_window_s);
  d.inputs["answer.latest"] = latest;
  d.inputs["answer.up_window_lowest"] = up.lowest;
  d.inputs["answer.down_window_highest"] = down.highest;

  // Stabilization as in Kubernetes' HPA: up only to what the whole up window agreed on (its lowest
  // answer), down only to what the whole down window agreed on (its highest answer).
  int wanted = current;
  if (up.covered && up.lowest > current)
    wanted = up.lowest;
  else if (down.covered && down.highest < current)
    wanted = down.highest;
  else if (latest > current)
    return finish(
        kRuleUpWindow, current,
        "load asks for " + std::to_string(latest) + " but not for the whole " + std::to_string(policy.up_window_s) +
            " s up window" +
            (up.covered ? " (its lowest answer: " + std::to_string(up.lowest) + ")" : " (not watched that long yet)"));
  else if (latest < current)
    return finish(kRuleDownWindow, current,
                  "load asks for " + std::to_string(latest) + " but not for the whole " +
                      std::to_string(policy.down_window_s) + " s down window" +
                      (down.covered ? " (its highest answer: " + std::to_string(down.highest) + ")"
                                    : " (not watched that long yet)"));
  else
    return finish(kRuleSteady, current, "load answers the current count");

  const int clamped = std::clamp(wanted, bounds.min, bounds.max);
  if (clamped == current)
    return finish(wanted > current ? kRuleAtMax : kRuleAtMin, current,
                  "load asks for " + std::to_string(wanted) + " but " + where + " allows [" +
                      std::to_string(bounds.min) + ", " + std::to_string(bounds.max) + "]");

  int64_t last_change = std::numeric_limits<int64_t>::min();
  for (const auto& p : previous)
    if (p.desired != p.current && p.time_ms <= now_ms) last_change = std::max(last_change, p.time_ms);
  const int64_t cooldown_ms = int64_t{policy.cooldown_s} * 1000;
  if (last_change != std::numeric_limits<int64_t>::min() && now_ms - last_change < cooldown_ms) {
    d.inputs["cooldown_remaining_s"] = static_cast<double>(last_change + cooldown_ms - now_ms) / 1000.0;
    return finish(kRuleCooldown, current,
                  "load asks for " + std::to_string(clamped) + " but the last change was " +
                      seconds(now_ms - last_change) + " ago (cooldown " + std::to_string(policy.cooldown_s) + " s)");
  }

  const int step = std::clamp(clamped - current, -policy.max_step, policy.max_step);
  const int desired = current + step;
  std::string why = std::string(clamped > current ? "every answer in the last " + std::to_string(policy.up_window_s) +
                                                        " s asked for at least " + std::to_string(up.lowest)
                                                  : "every answer in the last " + std::to_string(policy.down_window_s) +
                                                        " s asked for at most " + std::to_string(down.highest));
  if (clamped != wanted) why += ", bounded to " + std::to_string(clamped) + " by " + where;
  if (desired != clamped) why += ", limited to a step of " + std::to_string(policy.max_step);
  return finish(step > 0 ? kRuleScaleUp : kRuleScaleDown, desired, why);
}

std::vector<std::string> least_busy(std::vector<InstanceLoad> instances, int n) {
  std::sort(instances.begin(), instances.end(), [&](const InstanceLoad& a, const InstanceLoad& b) {
    if (a.sessions != b.sessions) return a.sessions < b.sessions;
    const long long sa = states::instance_serial(a.id), sb = states::instance_serial(b.id);
    if (sa != sb) return sa > sb;
    return a.id > b.id;
  });
  std::vector<std::string> out;
  for (std::size_t i = 0; i < instances.size() && static_cast<int>(i) < n; ++i) out.push_back(instances[i].id);
  return out;
}

}  // namespace pier::metrics
