#include "services/metrics/app_history.h"

#include <cmath>
#include <limits>
#include <set>

namespace pier::metrics {

void AppHistory::add(const msg::HostSample& sample, int64_t now_ms) {
  std::set<std::string> touched;
  std::set<std::string> reported;
  for (const auto& i : sample.instances) {
    instances_[i.id] = InstanceFigure{i.app, sample.host_id, i.cpu_percent, now_ms};
    touched.insert(i.app);
    reported.insert(i.id);
  }
  for (auto it = instances_.begin(); it != instances_.end();) {
    if (it->second.host == sample.host_id && !reported.count(it->first)) {
      touched.insert(it->second.app);
      it = instances_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& app : touched) aggregate(app, now_ms);
}

void AppHistory::aggregate(const std::string& app, int64_t now_ms) {
  double total = 0;
  int count = 0;
  for (const auto& [id, figure] : instances_) {
    if (figure.app != app || now_ms - figure.received_ms > options_.fresh_ms) continue;
    total += figure.cpu_percent;
    ++count;
  }
  if (count == 0) return;  // no fresh figure: nothing measured, no sample (the autoscaler sees staleness)
  constexpr double kAbsent = std::numeric_limits<double>::quiet_NaN();
  auto& samples = apps_[app];
  samples.push_back(AppSample{now_ms, total / count, kAbsent, kAbsent, count});
  while (samples.size() > options_.max_per_app) samples.pop_front();
}

void AppHistory::replay(const std::vector<InstanceRow>& rows) {
  std::size_t i = 0;
  while (i < rows.size()) {
    msg::HostSample sample;
    sample.host_id = rows[i].host;
    const int64_t time_ms = rows[i].time_ms;
    for (; i < rows.size() && rows[i].host == sample.host_id && rows[i].time_ms == time_ms; ++i)
      sample.instances.push_back({rows[i].instance, rows[i].app, rows[i].cpu_percent, rows[i].rss_bytes});
    add(sample, time_ms);
  }
}

void AppHistory::retain(const msg::State& state) {
  std::set<std::string> listed;
  for (const auto& i : state.instances) listed.insert(i.id);
  std::erase_if(instances_, [&](const auto& item) { return !listed.count(item.first); });
  std::set<std::string> apps;
  for (const auto& a : state.apps) apps.insert(a.spec.name);
  std::erase_if(apps_, [&](const auto& item) { return !apps.count(item.first); });
}

void AppHistory::prune(int64_t now_ms) {
  const int64_t cutoff = now_ms - options_.keep_ms;
  for (auto it = apps_.begin(); it != apps_.end();) {
    auto& samples = it->second;
    while (!samples.empty() && samples.front().time_ms < cutoff) samples.pop_front();
    it = samples.empty() ? apps_.erase(it) : std::next(it);
  }
}

std::vector<AppSample> AppHistory::samples(const std::string& app, int64_t since_ms) const {
  std::vector<AppSample> out;
  auto it = apps_.find(app);
  if (it == apps_.end()) return out;
  for (const auto& s : it->second)
    if (s.time_ms >= since_ms) out.push_back(s);
  return out;
}

std::optional<AppSample> AppHistory::latest(const std::string& app) const {
  auto it = apps_.find(app);
  if (it == apps_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

}  // namespace pier::metrics
