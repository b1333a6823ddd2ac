// The registry's embedded store: one SQLite file (WAL, synchronous FULL: a change is on disk before it
// is acknowledged), migrated to schema.h when opened; every commit is one transaction.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <memory>
#include <string>

#include "services/registry/rows.h"
#include "services/registry/store.h"

namespace pier::registry {

class SqliteStore final : public Store {
 public:
  // Opens (creating it when missing) and migrates the database at `path` (":memory:" for tests).
  static Result<std::unique_ptr<SqliteStore>> open(const std::string& path);

  Result<Snapshot> load() override;
  Status commit(const Changes& changes) override;
  Result<std::optional<msg::Reply>> applied_reply(const std::string& request_id) override;
  Status forget_requests_before(int64_t time_ms) override;

  // For tests that look under the store.
  SQLite::Database& db() { return *db_; }

 private:
  explicit SqliteStore(std::unique_ptr<SQLite::Database> db) : db_(std::move(db)), rows_(*db_) {}
  // commit() in one transaction, at the synchronous level the caller set.
  Status write(const Changes& changes);

  std::unique_ptr<SQLite::Database> db_;
  Rows rows_;
};

}  // namespace pier::registry
