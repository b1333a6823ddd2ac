// An app's request figures over every host: each host's HAProxy sees its share of the app's requests
// (clients may reach any host), so rates, sessions and 5xx add up. A p95 cannot be added: the app's is
// the highest of the hosts' p95 among hosts that logged requests, an upper estimate that is exact with
// one HAProxy. Pure.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/messages.h"

namespace pier::metrics {

struct RequestTotals {
  double requests_per_second = 0;
  int64_t current_sessions = 0;
  int64_t responses_5xx = 0;
  double p95_latency_ms = 0;                                // meaningful when latency_samples > 0
  int64_t latency_samples = 0;                              // requests behind the p95s, over all hosts
  std::map<std::string, msg::ServerRequestSample> servers;  // by instance id, summed over hosts
};

// One app's figures from several hosts' AppRequestSample.
RequestTotals combine(const std::vector<const msg::AppRequestSample*>& per_host);

// Every app's figures over the given host samples (an app listed twice in one sample counts once).
std::map<std::string, RequestTotals> totals_by_app(const std::map<std::string, msg::HostSample>& hosts);

}  // namespace pier::metrics
