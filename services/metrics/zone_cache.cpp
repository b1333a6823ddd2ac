#include "services/metrics/zone_cache.h"

namespace pier::metrics {

Result<TimeZone> ZoneCache::get(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = zones_.find(name);
  if (it == zones_.end()) it = zones_.emplace(name, load_time_zone(name)).first;
  return it->second;
}

}  // namespace pier::metrics
