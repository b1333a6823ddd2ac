// The registry's SQL: every statement on its tables (schema.h), and the one place where a row becomes a
// msg:: record and back. Columns are read and bound by name. Nested records (LbStatus, OverlayInfo, an
// app's spec, revisions and rollout) are msgpack blobs through common/codec; the hosts an instance failed
// on are a child table. Every function throws SQLite::Exception on a database error; the caller owns
// the transaction.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/messages.h"
#include "services/registry/store.h"

namespace pier::registry {

class Rows {
 public:
  explicit Rows(SQLite::Database& db) : db_(db) {}

  int64_t meta(const char* key);
  void set_meta(const char* key, int64_t value);

  // Hosts by id.
  std::vector<StoredHost> hosts();
  // Inserts or updates; `time_ms` is kept as registered_ms when the host is new.
  void put_host(const StoredHost& host, int64_t time_ms);
  void delete_host(const std::string& id);

  // Apps in the order they were first deployed (rowid: the order of their inserts, whatever the clock did).
  std::vector<msg::AppRecord> apps();
  // Inserts or updates; `time_ms` is kept as created_ms when the app is new.
  void put_app(const msg::AppRecord& app, int64_t time_ms);
  // The app and its instances.
  void delete_app(const std::string& name);

  // Instances by serial, with the hosts they failed on.
  std::vector<msg::InstanceRecord> instances();
  void put_instance(const msg::InstanceRecord& instance);
  void delete_instance(const std::string& id);

  std::optional<msg::Reply> reply(const std::string& request_id);
  void put_request(const AppliedRequest& request, int64_t time_ms);
  int delete_requests_before(int64_t time_ms);

 private:
  // The statement for `sql`, prepared once and reset for this use.
  SQLite::Statement& statement(const char* sql);

  SQLite::Database& db_;
  std::map<const char*, std::unique_ptr<SQLite::Statement>> statements_;
};

}  // namespace pier::registry
