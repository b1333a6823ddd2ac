// Per-app history for the autoscaler, built from agents' host samples: each time a host reports, the
// apps it runs or balances get an AppSample (average CPU over the app's instances with a fresh figure,
// and how many; requests/s summed over the fresh figures of every host's HAProxy, p95 latency the
// highest of theirs: request_totals.h). A figure no fresh sample measured is NaN. Not thread-safe: one
// owner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/messages.h"
#include "services/metrics/autoscaler.h"
#include "services/metrics/sample_store.h"

namespace pier::metrics {

struct AppHistoryOptions {
  int64_t fresh_ms = 10'000;    // an instance's figure counts this long after it was received
  int64_t keep_ms = 3'600'000;  // AppSamples older than this are forgotten (see prune)
  std::size_t max_per_app = 100'000;
};

class AppHistory {
 public:
  explicit AppHistory(AppHistoryOptions options = {}) : options_(options) {}

  // Takes a host sample received at `now_ms` (pier-metrics' wall clock): its instances' figures become
  // their latest, instances this host no longer reports are forgotten, and every app it touched gets
  // an AppSample at now_ms.
  void add(const msg::HostSample& sample, int64_t now_ms);
  // Rebuilds from stored instance rows (oldest first), as if their host samples arrived again.
  void replay(const std::vector<InstanceRow>& rows);
  // Current sessions of each of `ids` (an app's instances), summed over every host's HAProxy figures
  // that are fresh at now_ms; 0 for an instance no HAProxy reports (it serves nobody).
  std::vector<InstanceLoad> loads(const std::string& app, const std::vector<std::string>& ids, int64_t now_ms) const;
  // Forgets instances the state no longer lists (removed by a scale-in or rm).
  void retain(const msg::State& state);
  // Drops AppSamples older than now_ms - keep_ms.
  void prune(int64_t now_ms);

  // The app's samples with time_ms >= since_ms, oldest first.
  std::vector<AppSample> samples(const std::string& app, int64_t since_ms) const;
  // The app's newest sample.
  std::optional<AppSample> latest(const std::string& app) const;

 private:
  struct InstanceFigure {
    std::string app;
    std::string host;
    double cpu_percent = 0;
    int64_t received_ms = 0;
  };
  struct HostRequests {
    msg::AppRequestSample figures;
    int64_t received_ms = 0;
  };
  void aggregate(const std::string& app, int64_t now_ms);
  std::vector<const msg::AppRequestSample*> fresh_requests(const std::string& app, int64_t now_ms) const;

  AppHistoryOptions options_;
  std::map<std::string, InstanceFigure> instances_;  // by instance id
  std::map<std::string, std::deque<AppSample>> apps_;
  std::map<std::pair<std::string, std::string>, HostRequests> requests_;  // by (app, host): its HAProxy's
};

}  // namespace pier::metrics
