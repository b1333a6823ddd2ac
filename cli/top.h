// `pier top`: the per-app figures pier-metrics publishes on metrics.app.<app> (AppMetrics), shown live
// or once. What has arrived and how it is printed are pure (tested without a bus); run_top does the I/O.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/messages.h"

namespace pier::cli {

// An AppMetrics figure for people: "-" when absent (pier-metrics sends -1) or not finite, else fixed
// with `decimals` digits after the point.
std::string format_figure(double value, int decimals);

// Columns APP WANTED RUNNING INSTANCES CPU% REQ/S P95MS, one row per app in the order given. WANTED and
// RUNNING come from the state, INSTANCES counts those whose fresh samples made the figures.
std::string top_table(const std::vector<msg::AppMetrics>& apps);
// An array of {app, time_ms, replicas, running, instances, cpu_percent, requests_per_second,
// p95_latency_ms}; absent figures are null.
nlohmann::json top_json(const std::vector<msg::AppMetrics>& apps);

// The latest AppMetrics of each app, as they arrive. pier-metrics publishes every app of its state back
// to back once per autoscale interval (a round); an app it stops publishing (removed) is forgotten
// after forget_ms.
class TopBoard {
 public:
  explicit TopBoard(int64_t quiet_ms = 300, int64_t forget_ms = 30'000) : quiet_ms_(quiet_ms), forget_ms_(forget_ms) {}

  // One message, received at `now_ms` (steady clock).
  void update(const msg::AppMetrics& metrics, int64_t now_ms);
  // Whether a first round has been seen whole: an app came a second time, or quiet_ms passed without a
  // message since the last one.
  bool round_complete(int64_t now_ms) const;
  // The apps heard from within forget_ms before `now_ms`, by name.
  std::vector<msg::AppMetrics> apps(int64_t now_ms) const;
  bool empty() const { return latest_.empty(); }

 private:
  struct Seen {
    msg::AppMetrics metrics;
    int64_t at_ms = 0;
  };
  int64_t quiet_ms_;
  int64_t forget_ms_;
  std::map<std::string, Seen> latest_;
  int64_t last_ms_ = 0;
  bool repeated_ = false;
};

int run_top(const std::vector<std::string>& args, const Io& io);

}  // namespace pier::cli
