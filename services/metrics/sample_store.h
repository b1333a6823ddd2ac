// Host and instance samples in SQLite: raw rows (one per host per sample, one per instance per sample)
// for the raw retention, then one-minute aggregates (avg/max, count) for the aggregate retention.
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

// One minute of a host's rows (table host_minutes), by time of receipt.
struct HostMinute {
  std::string host;
  int64_t minute_ms = 0;  // start of the minute (a multiple of 60 000)
  int64_t count = 0;      // raw rows it summarises
  double cpu_avg = 0;
  double cpu_max = 0;
  double memory_used_avg = 0;
  int64_t memory_used_max = 0;
  int64_t memory_total_max = 0;
  double load1_avg = 0;
  double load1_max = 0;
};

// One minute of an instance's rows (table instance_minutes).
struct InstanceMinute {
  std::string host;
  std::string instance;
  std::string app;
  int64_t minute_ms = 0;
  int64_t count = 0;
  double cpu_avg = 0;
  double cpu_max = 0;
  double rss_avg = 0;
  int64_t rss_max = 0;
};

inline constexpr int64_t kMinuteMs = 60'000;

// How long rows are kept, by time of receipt. Aggregates outlive raw rows: aggregate_ms >= raw_ms.
struct Retention {
  int64_t raw_ms = 3'600'000;             // --retention
  int64_t aggregate_ms = 7 * 86'400'000;  // --aggregate-retention
};

class SampleStore {
 public:
  // Opens (or creates) the database at `path`, ":memory:" for tests.
  static Result<std::unique_ptr<SampleStore>> open(const std::string& path, Retention retention = {});
  SampleStore(std::unique_ptr<SQLite::Database> db, Retention retention) : db_(std::move(db)), retention_(retention) {}

  // Writes the host row and one row per instance, in one transaction, received at `time_ms`.
  Status insert(const msg::HostSample& sample, int64_t time_ms);
  // Ages the raw rows older than `cutoff_ms` (time_ms < cutoff, the caller passes now - raw retention):
  // folds them into their minute's aggregates (merged with what earlier calls folded into that minute)
  // and deletes them, and deletes the aggregates whose minute ended before
  // cutoff_ms - (aggregate_ms - raw_ms), i.e. now - aggregate retention. One transaction. Returns how
  // many raw rows went.
  Result<int64_t> delete_before(int64_t cutoff_ms);

  // A host's rows with time_ms >= since_ms, oldest first.
  Result<std::vector<HostRow>> host_rows(const std::string& host, int64_t since_ms);
  // An app's instance rows with time_ms >= since_ms, oldest first, then by instance id.
  Result<std::vector<InstanceRow>> instance_rows(const std::string& app, int64_t since_ms);
  // Every app's instance rows with time_ms >= since_ms, oldest first, then by host and instance id.
  Result<std::vector<InstanceRow>> instance_rows_since(int64_t since_ms);

  // A host's minute aggregates with minute_ms >= since_ms, oldest first.
  Result<std::vector<HostMinute>> host_minutes(const std::string& host, int64_t since_ms);
  // An app's instance minute aggregates with minute_ms >= since_ms, oldest first, then by host and instance.
  Result<std::vector<InstanceMinute>> instance_minutes(const std::string& app, int64_t since_ms);

  const Retention& retention() const { return retention_; }
  SQLite::Database& db() { return *db_; }

 private:
  std::unique_ptr<SQLite::Database> db_;
  Retention retention_;
};

}  // namespace pier::metrics
