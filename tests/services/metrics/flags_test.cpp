#include "services/metrics/flags.h"

#include <gtest/gtest.h>

namespace pier::metrics {
namespace {

TEST(Flags, ParsesListenAddresses) {
  auto l = parse_listen("--listen", "127.0.0.1:9100");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->address, "127.0.0.1");
  EXPECT_EQ(l->port, 9100);
  EXPECT_EQ(parse_listen("--listen", "0.0.0.0:0")->port, 0);
  for (const char* bad : {"9100", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "localhost:9100", ":9100",
                          "127.0.0.1:91x", "127.0.0.1:9100 "}) {
    auto r = parse_listen("--listen", bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().field(), "--listen");
    }
  }
}

TEST(Flags, ParsesDurations) {
  EXPECT_EQ(*parse_duration_ms("--retention", "1h"), 3'600'000);
  EXPECT_EQ(*parse_duration_ms("--retention", "30m"), 1'800'000);
  EXPECT_EQ(*parse_duration_ms("--retention", "90s"), 90'000);
  EXPECT_EQ(*parse_duration_ms("--retention", "90"), 90'000);
  EXPECT_EQ(*parse_duration_ms("--retention", "250ms"), 250);
  EXPECT_EQ(*parse_duration_ms("--retention", "2d"), 172'800'000);
  for (const char* bad : {"", "0", "-1h", "h", "1w", "1 h", "1.5h", "99999999999999999999h", "9223372036854775807d"})
    EXPECT_FALSE(parse_duration_ms("--retention", bad).ok()) << bad;
}

TEST(Flags, AggregatesMustOutliveRawSamples) {
  EXPECT_TRUE(check_retentions(3'600'000, 604'800'000).ok());
  EXPECT_TRUE(check_retentions(3'600'000, 3'600'000).ok());
  const Status s = check_retentions(3'600'000, 60'000);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.field(), "--aggregate-retention");
}

}  // namespace
}  // namespace pier::metrics
