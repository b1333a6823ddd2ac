#include "common/store.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace pier {
namespace {

TEST(Store, AppliesMigrationsOnceInOrder) {
  auto dir = std::filesystem::temp_directory_path() / ("pier-store-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "t.db").string();
  std::vector<std::string> migrations = {"CREATE TABLE a(x INTEGER)", "INSERT INTO a VALUES (1)"};
  {
    auto db = store::open(path, migrations);
    EXPECT_EQ(db->execAndGet("PRAGMA journal_mode").getString(), "wal");
    EXPECT_EQ(db->execAndGet("SELECT count(*) FROM a").getInt(), 1);
  }
  migrations.push_back("INSERT INTO a VALUES (2)");
  {
    auto db = store::open(path, migrations);  // only the new migration runs
    EXPECT_EQ(db->execAndGet("SELECT count(*) FROM a").getInt(), 2);
    EXPECT_EQ(db->execAndGet("PRAGMA user_version").getInt(), 3);
  }
  std::filesystem::remove_all(dir);
}

TEST(Store, FailedMigrationLeavesVersionUnchanged) {
  auto db = store::open(":memory:", {"CREATE TABLE a(x INTEGER)"});
  EXPECT_THROW(store::open(":memory:", {"CREATE TABLE a(x", "x"}), SQLite::Exception);
  EXPECT_EQ(db->execAndGet("PRAGMA user_version").getInt(), 1);
}

}  // namespace
}  // namespace pier
