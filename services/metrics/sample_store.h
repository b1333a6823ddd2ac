// Raw host and instance samples in SQLite (one row per host per sample, one per instance per sample),
// kept for a retention window.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/messages.h"
#include "common/status.h"

namespace pier::metrics {

// The schema, one migration per entry (common/store.h applies them). Append; never edit a shipped one.
const std::vector<std::string>& migrations();

// One stored host row.
struct HostRow {
  std::string host;
  int64_t time_ms = 0;    // when pier-metrics received it (its wall clock): retention goes by this
  int64_t sample_ms = 0;  // when the agent took it (the agent's wall clock)
  double cpu_percent = 0;
  int64_t memory_used_bytes = 0;
  int64_t memory_total_bytes = 0;
  double load1 = 0;
};

// One stored instance row.
struct InstanceRow {
  std::string host;
  std::string instance;
  std::string app;
  int64_t time_ms = 0;
  double cpu_percent = 0;
  int64_t rss_bytes = 0;
};

class SampleStore {
 public:
  // Opens (or creates) the database at `path`, ":memory:" for tests.
  static Result<std::unique_ptr<SampleStore>> open(const std::string& path);
  explicit SampleStore(std::unique_ptr<SQLite::Database> db) : db_(std::move(db)) {}

  // Writes the host row and one row per instance, in one transaction, received at `time_ms`.
  Status insert(const msg::HostSample& sample, int64_t time_ms);
  // Deletes the rows older than `cutoff_ms` (time_ms < cutoff); returns how many went.
  Result<int64_t> delete_before(int64_t cutoff_ms);

  // A host's rows with time_ms >= since_ms, oldest first.
  Result<std::vector<HostRow>> host_rows(const std::string& host, int64_t since_ms);
  // An app's instance rows with time_ms >= since_ms, oldest first, then by instance id.
  Result<std::vector<InstanceRow>> instance_rows(const std::string& app, int64_t since_ms);
  // Every app's instance rows with time_ms >= since_ms, oldest first, then by host and instance id.
  Result<std::vector<InstanceRow>> instance_rows_since(int64_t since_ms);

  SQLite::Database& db() { return *db_; }

 private:
  std::unique_ptr<SQLite::Database> db_;
};

}  // namespace pier::metrics
