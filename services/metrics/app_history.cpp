#include "services/metrics/app_history.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "services/metrics/request_totals.h"

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
  std::set<std::string> balanced;
  for (const auto& a : sample.apps) {
    if (!balanced.insert(a.app).second) continue;
    requests_[{a.app, sample.host_id}] = HostRequests{a, now_ms};
    touched.insert(a.app);
  }
  for (auto it = requests_.begin(); it != requests_.end();) {
    if (it->first.second == sample.host_id && !balanced.count(it->first.first)) {
      touched.insert(it->first.first);
      it = requests_.erase(it);
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
  const auto balanced = fresh_requests(app, now_ms);
  // No fresh figure: nothing measured, no sample (the autoscaler sees staleness).
  if (count == 0 && balanced.empty()) return;
  constexpr double kAbsent = std::numeric_limits<double>::quiet_NaN();
  AppSample sample{now_ms, count > 0 ? total / count : kAbsent, kAbsent, kAbsent, count};
  if (!balanced.empty()) {
    const RequestTotals requests = combine(balanced);
    sample.requests_per_second = requests.requests_per_second;
    if (requests.latency_samples > 0) sample.p95_latency_ms = requests.p95_latency_ms;
  }
  auto& samples = apps_[app];
  samples.push_back(sample);
  while (samples.size() > options_.max_per_app) samples.pop_front();
}

std::vector<const msg::AppRequestSample*> AppHistory::fresh_requests(const std::string& app, int64_t now_ms) const {
  std::vector<const msg::AppRequestSample*> out;
  for (auto it = requests_.lower_bound({app, ""}); it != requests_.end() && it->first.first == app; ++it)
    if (now_ms - it->second.received_ms <= options_.fresh_ms) out.push_back(&it->second.figures);
  return out;
}

std::vector<InstanceLoad> AppHistory::loads(const std::string& app, const std::vector<std::string>& ids,
                                            int64_t now_ms) const {
  const RequestTotals requests = combine(fresh_requests(app, now_ms));
  std::vector<InstanceLoad> out;
  for (const auto& id : ids) {
    auto it = requests.servers.find(id);
    const int64_t sessions = it == requests.servers.end() ? 0 : it->second.current_sessions;
    out.push_back({id, static_cast<int>(std::min<int64_t>(sessions, std::numeric_limits<int>::max()))});
  }
  return out;
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
  std::erase_if(requests_, [&](const auto& item) { return !apps.count(item.first.first); });
}

void AppHistory::prune(int64_t now_ms) {
  const int64_t cutoff = now_ms - options_.keep_ms;
  std::erase_if(requests_, [&](const auto& item) { return item.second.received_ms < cutoff; });
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
