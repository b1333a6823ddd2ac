// Opening a SQLite database the way every pier service does: WAL journal, synchronous FULL (a
// command is on disk before it is acknowledged), a busy timeout, and numbered schema migrations.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <memory>
#include <string>
#include <vector>

namespace pier::store {

// Opens or creates the database at `path` (":memory:" for tests) and applies every migration whose
// index is at or past the database's user_version, each in its own transaction. Throws
// SQLite::Exception when the file cannot be opened or a migration fails.
std::unique_ptr<SQLite::Database> open(const std::string& path, const std::vector<std::string>& migrations);

}  // namespace pier::store
