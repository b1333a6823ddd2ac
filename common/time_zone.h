// IANA time zones as values, from the system's tz database through Howard Hinnant's date/tz library
// (Debian's libhowardhinnant-date-dev, the library std::chrono's time zones were standardised from;
// GCC 12's libstdc++ does not have std::chrono::locate_zone yet). Loading a zone reads the database
// once; a loaded TimeZone then answers offsets with no I/O, no clock and no global state (no TZ
// variable, no localtime_r), so the autoscaler stays a pure function of its inputs. Limit: offsets come
// from the zone files' transitions, which Debian's tzdata lists up to 2037; later instants keep the
// last offset of the table.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace date {
class time_zone;
}

namespace pier {

class TimeZone {
 public:
  // UTC, built in: needs no tz database.
  static TimeZone utc();

  const std::string& name() const { return name_; }
  // Seconds to add to a UTC time to get local wall-clock time at that instant.
  int32_t offset_s(int64_t utc_s) const;
  int64_t to_local_s(int64_t utc_s) const { return utc_s + offset_s(utc_s); }

 private:
  friend Result<TimeZone> load_time_zone(std::string_view name);
  TimeZone(std::string name, const date::time_zone* zone) : name_(std::move(name)), zone_(zone) {}

  std::string name_;
  const date::time_zone* zone_ = nullptr;  // owned by the library's database, lives as long as the process
};

// Rule for zone names given by people: 1-128 characters of A-Z a-z 0-9 _ + -, in '/'-separated
// parts, none empty (so no "..", no absolute path).
bool is_time_zone_name(std::string_view name);

// "UTC" and "Etc/UTC" are built in; any other name comes from the system's tz database
// (/usr/share/zoneinfo). Fails with a message saying why (bad name, no such zone).
Result<TimeZone> load_time_zone(std::string_view name);

}  // namespace pier
