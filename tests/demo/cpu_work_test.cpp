#include "demo/cpu_work.h"

#include <gtest/gtest.h>

#include <chrono>

namespace pier::demo {
namespace {

TEST(DemoWork, AcceptsWholeMillisecondsFromOneToTenThousand) {
  EXPECT_EQ(*parse_work_ms("1"), 1);
  EXPECT_EQ(*parse_work_ms("50"), 50);
  EXPECT_EQ(*parse_work_ms("10000"), 10'000);
}

TEST(DemoWork, RefusesEverythingElseNamingMs) {
  for (const char* bad : {"", "0", "-5", "10001", "99999999999", "1.5", "5ms", " 5", "abc", "0x10"}) {
    auto r = parse_work_ms(std::string(bad));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().field(), "ms") << bad;
    EXPECT_NE(r.status().rule().find("1 to 10000"), std::string::npos) << r.status().message();
  }
  auto missing = parse_work_ms(std::nullopt);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().field(), "ms");
  EXPECT_NE(missing.status().rule().find("missing"), std::string::npos);
}

TEST(DemoWork, BurnsAtLeastTheCpuTimeAsked) {
  const auto start = std::chrono::steady_clock::now();
  const double used = burn_cpu(30);
  const auto wall = std::chrono::steady_clock::now() - start;
  EXPECT_GE(used, 30.0);
  EXPECT_GE(wall, std::chrono::milliseconds(30)) << "CPU time of one thread never exceeds the wall time";
}

}  // namespace
}  // namespace pier::demo
