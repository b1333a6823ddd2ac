// Time zones by name, each loaded from the tz database once (failures too, so a missing zone is not
// looked up again on every decision). Thread-safe: the bus thread and the HTTP thread share it.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "common/time_zone.h"

namespace pier::metrics {

class ZoneCache {
 public:
  Result<TimeZone> get(const std::string& name);

 private:
  std::mutex mutex_;
  std::map<std::string, Result<TimeZone>> zones_;
};

}  // namespace pier::metrics
