#include "services/metrics/sample_store.h"

#include <gtest/gtest.h>

#include "tests/services/metrics/temp_dir.h"

namespace pier::metrics {
namespace {

msg::HostSample sample(const std::string& host, int64_t taken_ms, double cpu) {
  msg::HostSample s;
  s.host_id = host;
  s.time_ms = taken_ms;
  s.cpu_percent = cpu;
  s.memory_used_bytes = 100;
  s.memory_total_bytes = 1000;
  s.load1 = 0.5;
  s.instances = {{"web-1", "web", cpu / 2, 4096}, {"api-2", "api", 1.5, 2048}};
  return s;
}

struct SampleStoreTest : ::testing::Test {
  testing::TempDir dir;
  std::unique_ptr<SampleStore> store;
  void SetUp() override {
    auto opened = SampleStore::open((dir.path() / "metrics.db").string());
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    store = std::move(*opened);
  }
};

TEST_F(SampleStoreTest, InsertsHostAndInstanceRowsAndQueriesThem) {
  ASSERT_TRUE(store->insert(sample("h1", 990, 10), 1000).ok());
  ASSERT_TRUE(store->insert(sample("h2", 1990, 20), 2000).ok());
  ASSERT_TRUE(store->insert(sample("h1", 2990, 30), 3000).ok());

  auto h1 = store->host_rows("h1", 0);
  ASSERT_TRUE(h1.ok()) << h1.status().message();
  ASSERT_EQ(h1->size(), 2u);
  EXPECT_EQ((*h1)[0].host, "h1");
  EXPECT_EQ((*h1)[0].time_ms, 1000);
  EXPECT_EQ((*h1)[0].sample_ms, 990);
  EXPECT_DOUBLE_EQ((*h1)[0].cpu_percent, 10);
  EXPECT_EQ((*h1)[0].memory_used_bytes, 100);
  EXPECT_EQ((*h1)[0].memory_total_bytes, 1000);
  EXPECT_DOUBLE_EQ((*h1)[0].load1, 0.5);
  EXPECT_DOUBLE_EQ((*h1)[1].cpu_percent, 30);
  EXPECT_EQ(store->host_rows("h1", 2500)->size(), 1u);
  EXPECT_EQ(store->host_rows("nobody", 0)->size(), 0u);

  auto web = store->instance_rows("web", 0);
  ASSERT_TRUE(web.ok()) << web.status().message();
  ASSERT_EQ(web->size(), 3u);
  EXPECT_EQ((*web)[1].host, "h2");
  EXPECT_EQ((*web)[1].instance, "web-1");
  EXPECT_EQ((*web)[1].app, "web");
  EXPECT_EQ((*web)[1].time_ms, 2000);
  EXPECT_DOUBLE_EQ((*web)[1].cpu_percent, 10);
  EXPECT_EQ((*web)[1].rss_bytes, 4096);
  EXPECT_EQ(store->instance_rows("api", 0)->size(), 3u);
}

TEST_F(SampleStoreTest, DeletesRowsOlderThanTheCutoff) {
  ASSERT_TRUE(store->insert(sample("h1", 0, 10), 1000).ok());
  ASSERT_TRUE(store->insert(sample("h1", 0, 20), 2000).ok());
  ASSERT_TRUE(store->insert(sample("h1", 0, 30), 3000).ok());
  auto deleted = store->delete_before(2000);  // strictly older: the row at 2000 stays
  ASSERT_TRUE(deleted.ok()) << deleted.status().message();
  EXPECT_EQ(*deleted, 3);  // one host row and two instance rows
  auto left = store->host_rows("h1", 0);
  ASSERT_EQ(left->size(), 2u);
  EXPECT_EQ((*left)[0].time_ms, 2000);
  EXPECT_EQ(store->instance_rows("web", 0)->size(), 2u);
  EXPECT_EQ(*store->delete_before(2000), 0);
  EXPECT_EQ(*store->delete_before(10'000), 6);
  EXPECT_EQ(store->host_rows("h1", 0)->size(), 0u);
}

TEST_F(SampleStoreTest, ReopeningKeepsRowsAndSchema) {
  ASSERT_TRUE(store->insert(sample("h1", 0, 10), 1000).ok());
  store.reset();
  auto again = SampleStore::open((dir.path() / "metrics.db").string());
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ((*again)->host_rows("h1", 0)->size(), 1u);
  EXPECT_EQ((*again)->db().execAndGet("PRAGMA user_version").getInt(), static_cast<int>(migrations().size()));
}

TEST_F(SampleStoreTest, AValueTheDatabaseRefusesIsAnErrorNotACrash) {
  msg::HostSample bad = sample("h1", 0, 10);
  bad.cpu_percent = std::nan("");  // SQLite stores NaN as NULL, which the schema refuses
  const Status s = store->insert(bad, 1000);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(store->host_rows("h1", 0)->size(), 0u);
  EXPECT_EQ(store->instance_rows("web", 0)->size(), 0u) << "one transaction: nothing half-written";
}

TEST(SampleStoreOpen, AnUnusablePathIsAnError) {
  auto opened = SampleStore::open("/nonexistent-dir/for/sure/metrics.db");
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.status().message().find("/nonexistent-dir/for/sure/metrics.db"), std::string::npos);
}

}  // namespace
}  // namespace pier::metrics
