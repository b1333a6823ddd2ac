// Parsers for pier-metrics' own flag values. Each failure names the flag and the rule.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace pier::metrics {

struct ListenAddress {
  std::string address;  // IPv4
  int port = 0;         // 0-65535; 0 lets the OS pick
};

// "127.0.0.1:9100" -> {127.0.0.1, 9100}.
Result<ListenAddress> parse_listen(std::string_view field, std::string_view text);

// "1h", "30m", "90s", "500ms", "2d", or a bare number of seconds -> milliseconds (> 0).
Result<int64_t> parse_duration_ms(std::string_view field, std::string_view text);

// --aggregate-retention must be at least --retention: minutes are aggregated as their raw rows age out,
// so a shorter one would delete aggregates as soon as they are made.
Status check_retentions(int64_t raw_ms, int64_t aggregate_ms);

}  // namespace pier::metrics
