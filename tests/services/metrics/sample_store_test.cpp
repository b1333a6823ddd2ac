#include "services/metrics/sample_store.h"

#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/store.h"
#include "tests/support/temp_dir.h"

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
    auto opened = SampleStore::open((std::filesystem::path(dir.path()) / "metrics.db").string());
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
  auto again = SampleStore::open((std::filesystem::path(dir.path()) / "metrics.db").string());
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

// History ages as the collector drives it: delete_before(now - raw retention) on a clock the test moves.
struct SampleStoreAgingTest : ::testing::Test {
  static constexpr int64_t kT0 = 1'700'000'040'000;  // the start of a minute
  static constexpr int64_t kHour = 3'600'000;
  testing::TempDir dir;
  ManualClock clock{kT0};
  Retention retention{kHour, 2 * kHour};
  std::unique_ptr<SampleStore> store;
  void SetUp() override {
    auto opened = SampleStore::open((std::filesystem::path(dir.path()) / "metrics.db").string(), retention);
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    store = std::move(*opened);
  }
  // Inserts a sample of h1 received at kT0 + offset_ms.
  void receive(int64_t offset_ms, double cpu, int64_t memory_used = 100) {
    msg::HostSample s = sample("h1", kT0 + offset_ms - 5, cpu);
    s.memory_used_bytes = memory_used;
    s.load1 = cpu / 10;
    s.instances = {{"web-1", "web", cpu / 2, memory_used * 10}};
    ASSERT_TRUE(store->insert(s, kT0 + offset_ms).ok());
  }
  Result<int64_t> age_at(int64_t offset_ms) {
    clock.advance(kT0 + offset_ms - clock.now_ms());
    return store->delete_before(clock.now_ms() - retention.raw_ms);
  }
};

TEST_F(SampleStoreAgingTest, RawRowsPastTheRetentionBecomeMinuteAggregates) {
  receive(0, 10, 100);
  receive(10'000, 20, 300);
  receive(20'000, 60, 200);
  receive(70'000, 5, 100);                // the next minute
  auto deleted = age_at(kHour + 65'000);  // cutoff kT0 + 65 s: the first minute has aged, the row at 70 s not
  ASSERT_TRUE(deleted.ok()) << deleted.status().message();
  EXPECT_EQ(*deleted, 6);  // three host rows and three instance rows

  auto hosts = store->host_minutes("h1", 0);
  ASSERT_TRUE(hosts.ok()) << hosts.status().message();
  ASSERT_EQ(hosts->size(), 1u);
  const HostMinute& h = (*hosts)[0];
  EXPECT_EQ(h.host, "h1");
  EXPECT_EQ(h.minute_ms, kT0);
  EXPECT_EQ(h.count, 3);
  EXPECT_DOUBLE_EQ(h.cpu_avg, 30);
  EXPECT_DOUBLE_EQ(h.cpu_max, 60);
  EXPECT_DOUBLE_EQ(h.memory_used_avg, 200);
  EXPECT_EQ(h.memory_used_max, 300);
  EXPECT_EQ(h.memory_total_max, 1000);
  EXPECT_DOUBLE_EQ(h.load1_avg, 3);
  EXPECT_DOUBLE_EQ(h.load1_max, 6);

  auto web = store->instance_minutes("web", 0);
  ASSERT_TRUE(web.ok()) << web.status().message();
  ASSERT_EQ(web->size(), 1u);
  const InstanceMinute& i = (*web)[0];
  EXPECT_EQ(i.host, "h1");
  EXPECT_EQ(i.instance, "web-1");
  EXPECT_EQ(i.app, "web");
  EXPECT_EQ(i.minute_ms, kT0);
  EXPECT_EQ(i.count, 3);
  EXPECT_DOUBLE_EQ(i.cpu_avg, 15);
  EXPECT_DOUBLE_EQ(i.cpu_max, 30);
  EXPECT_DOUBLE_EQ(i.rss_avg, 2000);
  EXPECT_EQ(i.rss_max, 3000);
  EXPECT_TRUE(store->instance_minutes("api", 0)->empty());

  auto raw = store->host_rows("h1", 0);
  ASSERT_EQ(raw->size(), 1u) << "the row of the next minute is still raw";
  EXPECT_EQ((*raw)[0].time_ms, kT0 + 70'000);
  EXPECT_EQ(*age_at(kHour + 65'000), 0) << "nothing folds twice";
  EXPECT_EQ(store->host_minutes("h1", 0)->at(0).count, 3);
}

TEST_F(SampleStoreAgingTest, AMinuteAgedInTwoStepsEqualsOneAgedAtOnce) {
  const double cpus[] = {10, 40, 20, 90, 30, 50};  // one sample every 10 s of the first minute
  for (int n = 0; n < 6; ++n) receive(n * 10'000, cpus[n], 100 + n * 100);
  ASSERT_EQ(*age_at(kHour + 25'000), 6);  // the rows at 0, 10 and 20 s
  ASSERT_EQ(store->host_minutes("h1", 0)->at(0).count, 3);
  ASSERT_EQ(*age_at(kHour + 60'000), 6);  // the rows at 30, 40 and 50 s

  auto hosts = store->host_minutes("h1", 0);
  ASSERT_EQ(hosts->size(), 1u);
  EXPECT_EQ((*hosts)[0].count, 6);
  EXPECT_DOUBLE_EQ((*hosts)[0].cpu_avg, 40);
  EXPECT_DOUBLE_EQ((*hosts)[0].cpu_max, 90);
  EXPECT_DOUBLE_EQ((*hosts)[0].memory_used_avg, 350);
  EXPECT_EQ((*hosts)[0].memory_used_max, 600);
  EXPECT_DOUBLE_EQ((*hosts)[0].load1_avg, 4);
  EXPECT_DOUBLE_EQ((*hosts)[0].load1_max, 9);
  auto web = store->instance_minutes("web", 0);
  ASSERT_EQ(web->size(), 1u);
  EXPECT_EQ((*web)[0].count, 6);
  EXPECT_DOUBLE_EQ((*web)[0].cpu_avg, 20);
  EXPECT_DOUBLE_EQ((*web)[0].cpu_max, 45);
  EXPECT_DOUBLE_EQ((*web)[0].rss_avg, 3500);
  EXPECT_EQ((*web)[0].rss_max, 6000);
  EXPECT_TRUE(store->host_rows("h1", 0)->empty());
}

TEST_F(SampleStoreAgingTest, AggregatesAreKeptForTheirOwnRetentionThenDeleted) {
  receive(0, 10);
  receive(30'000, 20);
  receive(60'000, 30);  // the second minute
  ASSERT_EQ(*age_at(kHour + 61'000), 6);
  ASSERT_EQ(store->host_minutes("h1", 0)->size(), 2u);
  ASSERT_EQ(store->instance_minutes("web", 0)->size(), 2u);

  // The first minute ends at kT0 + 60 s: it goes once it is wholly older than now - 2 h.
  ASSERT_TRUE(age_at(2 * kHour + 59'999).ok());
  EXPECT_EQ(store->host_minutes("h1", 0)->size(), 2u);
  ASSERT_TRUE(age_at(2 * kHour + 60'000).ok());
  auto hosts = store->host_minutes("h1", 0);
  ASSERT_EQ(hosts->size(), 1u);
  EXPECT_EQ((*hosts)[0].minute_ms, kT0 + 60'000);
  EXPECT_EQ(store->instance_minutes("web", 0)->size(), 1u);
  ASSERT_TRUE(age_at(2 * kHour + 120'000).ok());
  EXPECT_TRUE(store->host_minutes("h1", 0)->empty());
  EXPECT_TRUE(store->instance_minutes("web", 0)->empty());
}

TEST_F(SampleStoreAgingTest, HostsAndInstancesAreAggregatedApart) {
  receive(0, 10);
  msg::HostSample other = sample("h2", kT0, 70);  // web-1 on h2 as well, and api-2
  ASSERT_TRUE(store->insert(other, kT0 + 1'000).ok());
  ASSERT_TRUE(age_at(kHour + 60'000).ok());
  EXPECT_EQ(store->host_minutes("h1", 0)->at(0).cpu_avg, 10);
  EXPECT_EQ(store->host_minutes("h2", 0)->at(0).cpu_avg, 70);
  auto web = store->instance_minutes("web", 0);
  ASSERT_EQ(web->size(), 2u);
  EXPECT_EQ((*web)[0].host, "h1");
  EXPECT_DOUBLE_EQ((*web)[0].cpu_avg, 5);
  EXPECT_EQ((*web)[1].host, "h2");
  EXPECT_DOUBLE_EQ((*web)[1].cpu_avg, 35);
  auto api = store->instance_minutes("api", 0);
  ASSERT_EQ(api->size(), 1u);
  EXPECT_EQ(api->at(0).instance, "api-2");
  EXPECT_EQ(store->instance_minutes("web", kT0 + 1)->size(), 0u) << "since_ms filters by minute";
}

// A database written before the aggregate tables existed (user_version 2) gains them on open and keeps
// its raw rows, which then age like any others.
TEST(SampleStoreMigration, AnOlderDatabaseGainsTheAggregateTables) {
  testing::TempDir dir;
  const std::string path = (std::filesystem::path(dir.path()) / "metrics.db").string();
  const std::vector<std::string> older(migrations().begin(), migrations().begin() + 2);
  {
    auto db = store::open(path, older);
    db->exec(
        "INSERT INTO host_samples(host, time_ms, sample_ms, cpu_percent, memory_used, memory_total, load1) "
        "VALUES ('h1', 1000, 990, 25, 10, 100, 0.5)");
    ASSERT_EQ(db->execAndGet("PRAGMA user_version").getInt(), 2);
  }
  auto opened = SampleStore::open(path, {1000, 100'000});
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  auto& s = **opened;
  EXPECT_EQ(s.db().execAndGet("PRAGMA user_version").getInt(), static_cast<int>(migrations().size()));
  EXPECT_EQ(s.host_rows("h1", 0)->size(), 1u);
  ASSERT_EQ(*s.delete_before(2000), 1);
  auto minutes = s.host_minutes("h1", 0);
  ASSERT_EQ(minutes->size(), 1u);
  EXPECT_EQ((*minutes)[0].minute_ms, 0);
  EXPECT_DOUBLE_EQ((*minutes)[0].cpu_avg, 25);
}

TEST(SampleStoreOpen, AnUnusablePathIsAnError) {
  auto opened = SampleStore::open("/nonexistent-dir/for/sure/metrics.db");
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.status().message().find("/nonexistent-dir/for/sure/metrics.db"), std::string::npos);
}

}  // namespace
}  // namespace pier::metrics
