#include "services/metrics/decision_store.h"

#include <gtest/gtest.h>

#include <cmath>

#include "services/metrics/sample_store.h"
#include "tests/support/temp_dir.h"

namespace pier::metrics {
namespace {

Decision decision(int64_t time_ms, int current, int desired, const std::string& rule) {
  Decision d;
  d.time_ms = time_ms;
  d.current = current;
  d.desired = desired;
  d.rule = rule;
  d.inputs = {{"current", current}, {"observed.cpu_percent", 87.5}};
  d.explanation = std::to_string(current) + " -> " + std::to_string(desired) + " (" + rule + "): because";
  return d;
}

TEST(DecisionStore, StoresReadsAndDeletesPastTheRetentionOnAFile) {
  testing::TempDir dir;
  const std::string path = (std::filesystem::path(dir.path()) / "metrics.db").string();
  {
    auto db = SampleStore::open(path);
    ASSERT_TRUE(db.ok()) << db.status().message();
    DecisionStore store((*db)->db());
    ASSERT_TRUE(store.insert("web", decision(1000, 2, 4, "scale-up")).ok());
    ASSERT_TRUE(store.insert("api", decision(2000, 3, 3, "stale")).ok());
    Decision odd = decision(3000, 4, 4, "steady");
    odd.inputs["metrics_age_s"] = std::nan("");
    ASSERT_TRUE(store.insert("web", odd).ok());
  }
  auto db = SampleStore::open(path);  // reopened: the table is there, the migration not run twice
  ASSERT_TRUE(db.ok()) << db.status().message();
  DecisionStore store((*db)->db());
  auto all = store.since(0);
  ASSERT_TRUE(all.ok()) << all.status().message();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].app, "web");
  EXPECT_EQ((*all)[0].decision.current, 2);
  EXPECT_EQ((*all)[0].decision.desired, 4);
  EXPECT_EQ((*all)[0].decision.rule, "scale-up");
  EXPECT_DOUBLE_EQ((*all)[0].decision.inputs.at("observed.cpu_percent"), 87.5);
  EXPECT_EQ((*all)[0].decision.explanation, "2 -> 4 (scale-up): because");
  EXPECT_TRUE(std::isnan((*all)[2].decision.inputs.at("metrics_age_s"))) << "NaN stored as null, read back as NaN";
  EXPECT_EQ(store.since(2000)->size(), 2u);

  auto deleted = store.delete_before(2500);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 2);
  ASSERT_EQ(store.since(0)->size(), 1u);
  EXPECT_EQ(store.since(0)->front().decision.time_ms, 3000);
}

TEST(DecisionStore, DecisionJsonHasTheDocumentedKeys) {
  Decision d = decision(1000, 2, 4, "scale-up");
  d.inputs["broken"] = INFINITY;
  const auto j = decision_json("web", d);
  EXPECT_EQ(j["time_ms"], 1000);
  EXPECT_EQ(j["app"], "web");
  EXPECT_EQ(j["old"], 2);
  EXPECT_EQ(j["new"], 4);
  EXPECT_EQ(j["rule"], "scale-up");
  EXPECT_EQ(j["inputs"]["observed.cpu_percent"], 87.5);
  EXPECT_TRUE(j["inputs"]["broken"].is_null());
  EXPECT_EQ(j["explanation"], "2 -> 4 (scale-up): because");
}

}  // namespace
}  // namespace pier::metrics
