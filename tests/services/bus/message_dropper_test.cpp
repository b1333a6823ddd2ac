// The bus's drop decisions: seeded, proportional, time-limited by the clock the test moves.
#include "services/bus/message_dropper.h"

#include <gtest/gtest.h>

#include <vector>

namespace pier::bus_proxy {
namespace {

std::vector<bool> choices(MessageDropper& dropper, int count) {
  std::vector<bool> out;
  for (int i = 0; i < count; ++i) out.push_back(dropper.drop());
  return out;
}

TEST(MessageDropperTest, SameSeedSameChoicesOtherSeedOtherChoices) {
  ManualClock clock;
  MessageDropper a({0.3, 42, 0}, clock), b({0.3, 42, 0}, clock), c({0.3, 43, 0}, clock);
  const auto first = choices(a, 1000);
  EXPECT_EQ(first, choices(b, 1000));
  EXPECT_NE(first, choices(c, 1000));
}

TEST(MessageDropperTest, ShareZeroDropsNoneShareOneDropsAll) {
  ManualClock clock;
  MessageDropper none({0, 1, 0}, clock), all({1, 1, 0}, clock);
  for (int i = 0; i < 10'000; ++i) {
    EXPECT_FALSE(none.drop());
    EXPECT_TRUE(all.drop());
  }
  EXPECT_FALSE(none.active());
  EXPECT_EQ(none.dropped(), 0u);
  EXPECT_EQ(none.seen(), 10'000u);
  EXPECT_EQ(all.dropped(), 10'000u);
}

TEST(MessageDropperTest, DropsAboutTheShare) {
  ManualClock clock;
  for (double share : {0.05, 0.2, 0.5, 0.9}) {
    for (uint64_t seed : {1u, 7u, 12345u}) {
      MessageDropper dropper({share, seed, 0}, clock);
      choices(dropper, 10'000);
      // Binomial: 5 standard deviations at most (sd <= 50 for 10,000 draws).
      EXPECT_NEAR(static_cast<double>(dropper.dropped()), share * 10'000, 250) << share << " seed " << seed;
    }
  }
}

TEST(MessageDropperTest, StopsAfterTheWindow) {
  ManualClock clock;
  MessageDropper dropper({1, 1, 30'000}, clock);
  EXPECT_TRUE(dropper.active());
  EXPECT_TRUE(dropper.drop());
  clock.advance(29'999);
  EXPECT_TRUE(dropper.drop());
  clock.advance(1);
  EXPECT_FALSE(dropper.active());
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(dropper.drop());
  EXPECT_EQ(dropper.dropped(), 2u);
  EXPECT_EQ(dropper.seen(), 102u);
}

TEST(MessageDropperTest, CheckNamesTheOption) {
  EXPECT_TRUE(check({0, 1, 0}).ok());
  EXPECT_TRUE(check({1, 1, 5000}).ok());
  EXPECT_EQ(check({-0.1, 1, 0}).field(), "drop-share");
  EXPECT_EQ(check({1.5, 1, 0}).field(), "drop-share");
  EXPECT_EQ(check({0.2, 1, -1}).field(), "drop-for-ms");
}

}  // namespace
}  // namespace pier::bus_proxy
