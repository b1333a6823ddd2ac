// A worker step that runs past the threshold is reported once, and once more when it ends.
#include "services/agent/stall_watch.h"

#include <gtest/gtest.h>

namespace pier::agent {
namespace {

TEST(StallWatchTest, OneEventWhenAStepRunsLongAndOneWhenItEnds) {
  StallWatch watch(5000);
  EXPECT_FALSE(watch.observe(-1, 1000));    // waiting for work
  EXPECT_FALSE(watch.observe(1000, 6000));  // 5000 ms: not more than the threshold
  auto stuck = watch.observe(1000, 6001);
  ASSERT_TRUE(stuck);
  EXPECT_TRUE(stuck->stuck);
  EXPECT_EQ(stuck->ms, 5001);
  EXPECT_FALSE(watch.observe(1000, 9000));  // still the same step: said once
  auto ended = watch.observe(-1, 11'230);
  ASSERT_TRUE(ended);
  EXPECT_FALSE(ended->stuck);
  EXPECT_EQ(ended->ms, 10'230);
  EXPECT_FALSE(watch.observe(-1, 20'000));
}

TEST(StallWatchTest, ShortStepsAreNeverReported) {
  StallWatch watch(5000);
  for (int64_t t = 0; t < 60'000; t += 50) {
    EXPECT_FALSE(watch.observe(t, t + 40));
    EXPECT_FALSE(watch.observe(-1, t + 45));
  }
}

TEST(StallWatchTest, ANextStepThatAlsoRunsLongIsReportedOnItsOwn) {
  StallWatch watch(1000);
  ASSERT_TRUE(watch.observe(0, 1500));
  auto ended = watch.observe(1600, 1700);  // the long step ended and another began before this look
  ASSERT_TRUE(ended);
  EXPECT_FALSE(ended->stuck);
  EXPECT_EQ(ended->ms, 1700);
  EXPECT_FALSE(watch.observe(1600, 2600));
  auto stuck = watch.observe(1600, 2601);
  ASSERT_TRUE(stuck);
  EXPECT_TRUE(stuck->stuck);
  EXPECT_EQ(stuck->ms, 1001);
}

}  // namespace
}  // namespace pier::agent
