#include "services/metrics/latest_figures.h"

#include "common/states.h"

namespace pier::metrics {

void LatestFigures::update(const msg::HostSample& sample, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  hosts_[sample.host_id] = Entry{sample, now_ms};
  // Forget hosts long gone, so that a fleet that churns through host ids does not grow this map
  // forever (stale entries are not shown anyway).
  std::erase_if(hosts_, [&](const auto& item) { return now_ms - item.second.received_ms > 10 * stale_ms_; });
}

void LatestFigures::update(const msg::State& state) {
  std::map<std::string, bool> up;
  for (const auto& h : state.hosts) up[h.id] = h.status == states::host::kUp;
  std::map<std::string, AppFigures> apps;
  for (const auto& a : state.apps) apps[a.spec.name].replicas = a.spec.replicas;
  for (const auto& i : state.instances) {
    auto it = apps.find(i.app);
    if (it != apps.end() && i.state == states::instance::kRunning) ++it->second.running;
  }
  std::lock_guard lock(mutex_);
  host_up_ = std::move(up);
  apps_ = std::move(apps);
  has_state_ = true;
  state_revision_ = state.revision;
}

void LatestFigures::set_counters(const Counters& counters) {
  std::lock_guard lock(mutex_);
  counters_ = counters;
}

void LatestFigures::set_autoscale(AutoscaleFigures figures) {
  std::lock_guard lock(mutex_);
  autoscale_ = std::move(figures);
}

Snapshot LatestFigures::snapshot(int64_t now_ms) const {
  std::lock_guard lock(mutex_);
  Snapshot s;
  for (const auto& [id, entry] : hosts_)
    if (now_ms - entry.received_ms <= stale_ms_) s.hosts.emplace(id, entry.sample);
  s.host_up = host_up_;
  s.apps = apps_;
  s.has_state = has_state_;
  s.state_revision = state_revision_;
  s.counters = counters_;
  s.autoscale = autoscale_;
  return s;
}

}  // namespace pier::metrics
