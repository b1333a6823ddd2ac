// The Prometheus text exposition format (version 0.0.4) of a Snapshot: a pure function.
#pragma once

#include <string>
#include <string_view>

#include "services/metrics/latest_figures.h"

namespace pier::metrics {

inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// Every metric family once, its samples together under one # HELP and one # TYPE line; hosts,
// instances and apps in a stable order (by id). A family with no samples still has its two lines.
std::string format_prometheus(const Snapshot& snapshot);

// A label value escaped for the text format: backslash, double quote and line feed.
std::string escape_label_value(std::string_view value);

// A sample value: shortest round-trip decimal, or NaN, +Inf, -Inf.
std::string format_value(double value);

}  // namespace pier::metrics
