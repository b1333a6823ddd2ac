// The CLI's side of pier-metrics' HTTP endpoint (cpp-httplib): GET a path, parse the JSON answer.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"

namespace pier::cli {

inline constexpr const char* kDefaultMetricsUrl = "http://127.0.0.1:9100";

// "http://HOST:PORT" with an optional path (dev.env's PIER_METRICS_URL ends in /metrics), reduced to
// its base "http://HOST:PORT". Only http.
Result<std::string> metrics_base_url(const std::string& url);

struct MetricsAnswer {
  int status = 0;       // HTTP status
  nlohmann::json body;  // parsed JSON; on an error status, {"error": why} when the server said why
};

// GETs base + path within timeout_ms. An error Status (naming the URL) when pier-metrics cannot be
// reached or does not answer JSON.
Result<MetricsAnswer> metrics_get(const std::string& base_url, const std::string& path, int64_t timeout_ms);

}  // namespace pier::cli
