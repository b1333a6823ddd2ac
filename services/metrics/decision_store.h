// The autoscaler's decisions in SQLite (table `decisions`, created by sample_store.cpp's migrations),
// kept for a retention window: what `pier why` reads after a restart.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "services/metrics/autoscaler.h"

namespace pier::metrics {

struct AppDecision {
  std::string app;
  Decision decision;
};

// {time_ms, app, old, new, rule, inputs {name: number}, explanation}: the one JSON shape of a
// decision (stored inputs, GET /decisions, GET /autoscale/dry-run). A NaN input becomes null.
nlohmann::json decision_json(const std::string& app, const Decision& decision);

class DecisionStore {
 public:
  // `db` must have been opened with metrics::migrations(); it outlives the store.
  explicit DecisionStore(SQLite::Database& db) : db_(db) {}

  Status insert(const std::string& app, const Decision& decision);
  // Decisions with time_ms >= since_ms, every app, oldest first.
  Result<std::vector<AppDecision>> since(int64_t since_ms);
  // Deletes decisions older than cutoff_ms; returns how many went.
  Result<int64_t> delete_before(int64_t cutoff_ms);

 private:
  SQLite::Database& db_;
};

}  // namespace pier::metrics
