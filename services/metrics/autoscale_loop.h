// The autoscaler wired to the world: keeps per-app history from agents' samples and the latest state,
// and every `interval_ms` runs the pure decide() (autoscaler.h) for each app whose policy is enabled.
// A decision that changes the replica count goes out as an ordinary ScaleCommand on cmd.scale, retried
// with the same request id until the registry replies (command_retry.h). Decisions that change
// something, and holds whose rule differs from the app's previous decision, are stored
// (decision_store.h), published on metrics.decision.<app> and counted; per-app aggregates go out on
// metrics.app.<app> every interval.
//
// The bus side (on_*, tick) runs on the thread that owns the bus sockets; decisions() and dry_run()
// are for the HTTP thread: they read a copy taken under a mutex and never publish.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/messages.h"
#include "services/metrics/app_history.h"
#include "services/metrics/autoscaler.h"
#include "services/metrics/command_retry.h"
#include "services/metrics/decision_store.h"
#include "services/metrics/latest_figures.h"
#include "services/metrics/zone_cache.h"

namespace pier::metrics {

struct AutoscaleOptions {
  int64_t interval_ms = 5000;  // how often to decide (steady clock)
  int64_t decision_retention_ms = 7 * 86'400'000LL;
  std::size_t decisions_per_app = 1000;  // kept in memory for `pier why` and the cooldown
  int64_t repeat_ms = 500;               // a scale command is re-sent this often...
  int64_t give_up_ms = 10'000;           // ...until a reply, or this long
  AppHistoryOptions history;
};

// An answer for the HTTP endpoint: status 200 with the body, or an error status with {"error": why}.
struct QueryAnswer {
  int status = 200;
  nlohmann::json body;
};

class AutoscaleLoop {
 public:
  // Publishes a body (already encoded) on a topic, with a request id for commands.
  using Publish = std::function<void(std::string_view topic, const std::string& body, const std::string& request_id)>;

  // `store` may be null (nothing persisted); `figures` receives the counters for /metrics.
  AutoscaleLoop(const Clock& clock, Publish publish, DecisionStore* store, LatestFigures* figures,
                AutoscaleOptions options = {});

  // Rebuilds history and earlier decisions from the database (on start).
  void restore(const std::vector<InstanceRow>& rows, const std::vector<AppDecision>& decisions);

  void on_sample(const msg::HostSample& sample);  // a checked sample, received now
  void on_state(const msg::State& state);
  void on_reply(const msg::Reply& reply);
  // Re-sends commands that are due; when the interval has passed, decides for every enabled app and
  // publishes the aggregates. Cheap when nothing is due: call it from every loop turn.
  void tick();

  // GET /decisions?app=A&last=N: the app's last N decisions, oldest first.
  QueryAnswer decisions(const std::string& app, int last) const;
  // GET /autoscale/dry-run?app=A: what decide() says now, without storing or publishing anything.
  QueryAnswer dry_run(const std::string& app) const;

  std::size_t pending_commands() const { return retry_.size(); }

 private:
  struct AppView {
    msg::AppSpec spec;
    int running = 0;
    std::vector<std::string> instances;  // every instance of the app in the state
    std::set<std::string> not_running;   // those not in state running
  };
  // Scale-in victims for the registry: the instances beyond `desired`, those that serve nobody (not
  // running) first, then the least busy (fewest current sessions, least_busy()). With mutex_ held.
  std::vector<std::string> remove_first(const std::string& app, const AppView& view, int desired, int64_t now_ms) const;
  void decide_all(int64_t now_ms);                                // with mutex_ held
  void record(const std::string& app, const Decision& decision);  // with mutex_ held
  void publish_figures();                                         // with mutex_ held
  void prune(int64_t now_ms);                                     // with mutex_ held
  // Records that the app's last change was not applied (refused, or no reply): it no longer counts
  // for the cooldown. Takes mutex_.
  void not_applied(const std::string& app, const std::string& why);
  std::vector<Decision> previous(const std::string& app) const;  // for decide(); with mutex_ held

  const Clock& clock_;
  Publish publish_;
  DecisionStore* store_;
  LatestFigures* figures_;
  const AutoscaleOptions options_;
  CommandRetry retry_;
  mutable ZoneCache zones_;

  // Bus thread only.
  bool ticked_once_ = false;
  int64_t last_tick_ms_ = 0;                          // steady
  int64_t last_prune_ms_ = 0;                         // steady
  std::map<std::string, int64_t> awaiting_revision_;  // app -> state revision its accepted command made
  std::set<std::string> zone_errors_logged_;

  // Shared with the HTTP thread.
  mutable std::mutex mutex_;
  bool has_state_ = false;
  int64_t state_revision_ = 0;
  std::map<std::string, AppView> apps_;
  AppHistory history_;
  std::map<std::string, std::deque<Decision>> decisions_;
  std::map<std::string, std::set<int64_t>> failed_;  // app -> time_ms of its changes not applied
  AutoscaleFigures counts_;
};

}  // namespace pier::metrics
