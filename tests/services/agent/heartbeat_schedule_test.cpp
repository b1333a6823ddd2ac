// When heartbeats are due and which ones are late, over a clock the test moves.
#include "services/agent/heartbeat_schedule.h"

#include <gtest/gtest.h>

#include "common/clock.h"

namespace pier::agent {
namespace {

TEST(HeartbeatScheduleTest, FirstAtOnceThenEveryPeriodOrAtOnceOnChange) {
  ManualClock clock;
  HeartbeatSchedule schedule(1000);
  EXPECT_TRUE(schedule.due(clock.steady_ms(), false));
  EXPECT_EQ(schedule.wait_ms(clock.steady_ms()), 0);
  EXPECT_FALSE(schedule.sent(clock.steady_ms()));

  clock.advance(999);
  EXPECT_FALSE(schedule.due(clock.steady_ms(), false));
  EXPECT_EQ(schedule.wait_ms(clock.steady_ms()), 1);
  EXPECT_TRUE(schedule.due(clock.steady_ms(), true));  // a change goes out at once
  clock.advance(1);
  EXPECT_TRUE(schedule.due(clock.steady_ms(), false));
  EXPECT_EQ(schedule.wait_ms(clock.steady_ms()), 0);
  EXPECT_FALSE(schedule.sent(clock.steady_ms()));

  // The period counts from the last heartbeat, whatever made it leave.
  clock.advance(300);
  EXPECT_FALSE(schedule.sent(clock.steady_ms()));  // on a change
  clock.advance(999);
  EXPECT_FALSE(schedule.due(clock.steady_ms(), false));
  EXPECT_EQ(schedule.wait_ms(clock.steady_ms()), 1);
}

TEST(HeartbeatScheduleTest, LateWhenTheGapExceedsOneAndAHalfPeriods) {
  ManualClock clock;
  HeartbeatSchedule schedule(1000);
  schedule.sent(clock.steady_ms());
  clock.advance(1500);
  EXPECT_FALSE(schedule.sent(clock.steady_ms()));  // 1.5 periods: on the edge, not late
  clock.advance(1501);
  EXPECT_EQ(schedule.sent(clock.steady_ms()), std::optional<int64_t>(1501));
  clock.advance(6700);
  EXPECT_EQ(schedule.sent(clock.steady_ms()), std::optional<int64_t>(6700));
  clock.advance(1000);
  EXPECT_FALSE(schedule.sent(clock.steady_ms()));
  EXPECT_EQ(schedule.longest_gap_ms(), 6700);
}

TEST(HeartbeatScheduleTest, NoGapBeforeTheSecondHeartbeat) {
  HeartbeatSchedule schedule(100);
  EXPECT_EQ(schedule.longest_gap_ms(), 0);
  EXPECT_FALSE(schedule.sent(50'000));
  EXPECT_EQ(schedule.longest_gap_ms(), 0);
  EXPECT_EQ(schedule.sent(50'151), std::optional<int64_t>(151));  // 1.5 x 100 is 150
  EXPECT_EQ(schedule.longest_gap_ms(), 151);
}

}  // namespace
}  // namespace pier::agent
