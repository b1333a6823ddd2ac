#include "common/time_zone.h"

#include <date/tz.h>

#include <chrono>
#include <exception>

namespace pier {

TimeZone TimeZone::utc() { return TimeZone("UTC", nullptr); }

int32_t TimeZone::offset_s(int64_t utc_s) const {
  if (zone_ == nullptr) return 0;
  const auto info = zone_->get_info(date::sys_seconds{std::chrono::seconds{utc_s}});
  return static_cast<int32_t>(info.offset.count());
}

bool is_time_zone_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  std::size_t part = 0;
  for (char c : name) {
    if (c == '/') {
      if (part == 0) return false;
      part = 0;
      continue;
    }
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '+' || c == '-';
    if (!ok) return false;
    ++part;
  }
  return part > 0;
}

Result<TimeZone> load_time_zone(std::string_view name) {
  if (!is_time_zone_name(name)) return Status::Error("not a time zone name");
  if (name == "UTC" || name == "Etc/UTC") return TimeZone::utc();
  try {
    return TimeZone(std::string(name), date::locate_zone(name));
  } catch (const std::exception& e) {  // unknown zone, or no tz database on this machine
    return Status::Error(e.what());
  }
}

}  // namespace pier
