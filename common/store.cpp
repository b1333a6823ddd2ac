#include "common/store.h"

namespace pier::store {

std::unique_ptr<SQLite::Database> open(const std::string& path, const std::vector<std::string>& migrations) {
  auto db = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  db->setBusyTimeout(5000);
  db->exec("PRAGMA journal_mode=WAL");
  db->exec("PRAGMA synchronous=FULL");
  db->exec("PRAGMA foreign_keys=ON");
  const int version = db->execAndGet("PRAGMA user_version").getInt();
  for (std::size_t i = static_cast<std::size_t>(version); i < migrations.size(); ++i) {
    SQLite::Transaction tx(*db);
    db->exec(migrations[i]);
    db->exec("PRAGMA user_version=" + std::to_string(i + 1));
    tx.commit();
  }
  return db;
}

}  // namespace pier::store
