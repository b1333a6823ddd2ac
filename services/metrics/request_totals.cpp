#include "services/metrics/request_totals.h"

#include <algorithm>
#include <set>

namespace pier::metrics {

RequestTotals combine(const std::vector<const msg::AppRequestSample*>& per_host) {
  RequestTotals t;
  for (const auto* a : per_host) {
    t.requests_per_second += a->requests_per_second;
    t.current_sessions += a->current_sessions;
    t.responses_5xx += a->responses_5xx;
    if (a->latency_samples > 0) {
      t.p95_latency_ms = t.latency_samples > 0 ? std::max(t.p95_latency_ms, a->p95_latency_ms) : a->p95_latency_ms;
      t.latency_samples += a->latency_samples;
    }
    std::set<std::string> seen;  // an instance listed twice in one host's figures counts once
    for (const auto& s : a->servers) {
      if (!seen.insert(s.instance).second) continue;
      auto& total = t.servers[s.instance];
      total.instance = s.instance;
      total.requests_per_second += s.requests_per_second;
      total.current_sessions += s.current_sessions;
      total.responses_5xx += s.responses_5xx;
    }
  }
  return t;
}

std::map<std::string, RequestTotals> totals_by_app(const std::map<std::string, msg::HostSample>& hosts) {
  std::map<std::string, std::vector<const msg::AppRequestSample*>> by_app;
  for (const auto& [host, sample] : hosts) {
    std::set<std::string> seen;
    for (const auto& a : sample.apps)
      if (seen.insert(a.app).second) by_app[a.app].push_back(&a);
  }
  std::map<std::string, RequestTotals> out;
  for (const auto& [app, list] : by_app) out.emplace(app, combine(list));
  return out;
}

}  // namespace pier::metrics
