#include "common/time_zone.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace pier {
namespace {

int64_t utc(int y, unsigned m, unsigned d, int h = 0, int min = 0, int s = 0) {
  using namespace std::chrono;
  const sys_days day{year{y} / month{m} / d};
  return day.time_since_epoch().count() * 86400LL + h * 3600 + min * 60 + s;
}

TimeZone load(const std::string& name) {
  auto zone = load_time_zone(name);
  EXPECT_TRUE(zone.ok()) << zone.status().message();
  return zone.ok() ? *zone : TimeZone::utc();
}

TEST(TimeZone, UtcIsBuiltIn) {
  auto zone = load_time_zone("UTC");
  ASSERT_TRUE(zone.ok());
  EXPECT_EQ(zone->offset_s(utc(2024, 7, 1)), 0);
  EXPECT_TRUE(load_time_zone("Etc/UTC").ok());
  EXPECT_EQ(TimeZone::utc().offset_s(utc(2024, 7, 1)), 0);
}

TEST(TimeZone, BerlinAroundBothDstChanges) {
  const TimeZone berlin = load("Europe/Berlin");
  // 2024-03-31: 02:00 CET -> 03:00 CEST at 01:00 UTC.
  EXPECT_EQ(berlin.offset_s(utc(2024, 3, 31, 0, 59, 59)), 3600);
  EXPECT_EQ(berlin.offset_s(utc(2024, 3, 31, 1, 0, 0)), 7200);
  // 2024-10-27: 03:00 CEST -> 02:00 CET at 01:00 UTC.
  EXPECT_EQ(berlin.offset_s(utc(2024, 10, 27, 0, 59, 59)), 7200);
  EXPECT_EQ(berlin.offset_s(utc(2024, 10, 27, 1, 0, 0)), 3600);
}

TEST(TimeZone, NewYorkAroundBothDstChanges) {
  const TimeZone ny = load("America/New_York");
  EXPECT_EQ(ny.offset_s(utc(2024, 3, 10, 6, 59, 59)), -5 * 3600);
  EXPECT_EQ(ny.offset_s(utc(2024, 3, 10, 7, 0, 0)), -4 * 3600);
  EXPECT_EQ(ny.offset_s(utc(2024, 11, 3, 5, 59, 59)), -4 * 3600);
  EXPECT_EQ(ny.offset_s(utc(2024, 11, 3, 6, 0, 0)), -5 * 3600);
  EXPECT_EQ(ny.to_local_s(utc(2024, 7, 4, 16)), utc(2024, 7, 4, 12));
}

TEST(TimeZone, FixedAndHalfHourZones) {
  EXPECT_EQ(load("Asia/Kolkata").offset_s(utc(2024, 1, 1)), 5 * 3600 + 1800);
  EXPECT_EQ(load("Asia/Tokyo").offset_s(utc(2024, 7, 1)), 9 * 3600);
}

// The library reads the compiled zone files' transitions, which Debian's tzdata lists up to 2037.
TEST(TimeZone, YearsAheadFollowTheCurrentRules) {
  const TimeZone berlin = load("Europe/Berlin");
  EXPECT_EQ(berlin.offset_s(utc(2036, 1, 15)), 3600);
  EXPECT_EQ(berlin.offset_s(utc(2036, 7, 15)), 7200);
  const TimeZone sydney = load("Australia/Sydney");  // southern hemisphere: DST over new year
  EXPECT_EQ(sydney.offset_s(utc(2036, 1, 15)), 11 * 3600);
  EXPECT_EQ(sydney.offset_s(utc(2036, 7, 15)), 10 * 3600);
}

TEST(TimeZone, Names) {
  for (const char* good : {"UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires", "Etc/GMT+5", "Etc/GMT-14"})
    EXPECT_TRUE(is_time_zone_name(good)) << good;
  for (const char* bad :
       {"", "/etc/passwd", "Europe/", "../etc/passwd", "Europe//Berlin", "Europe/Ber lin", "Europe/Berlin\n", "a.b"})
    EXPECT_FALSE(is_time_zone_name(bad)) << bad;
  EXPECT_FALSE(load_time_zone("Mars/Olympus_Mons").ok());
  EXPECT_FALSE(load_time_zone("Europe").ok());  // a folder, not a zone
  const auto unknown = load_time_zone("Mars/Olympus_Mons");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("Mars/Olympus_Mons"), std::string::npos) << unknown.status().message();
}

}  // namespace
}  // namespace pier
