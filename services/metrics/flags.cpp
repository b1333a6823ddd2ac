#include "services/metrics/flags.h"

#include <charconv>
#include <limits>

#include "common/net.h"

namespace pier::metrics {

Result<ListenAddress> parse_listen(std::string_view field, std::string_view text) {
  const std::string f(field);
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return Status::Invalid(f, "must be ADDRESS:PORT, like 127.0.0.1:9100");
  ListenAddress listen{std::string(text.substr(0, colon)), 0};
  if (!net::parse_ipv4(listen.address).ok()) return Status::Invalid(f, "address must be IPv4, like 127.0.0.1");
  const std::string_view port = text.substr(colon + 1);
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), listen.port);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || listen.port < 0 || listen.port > 65535)
    return Status::Invalid(f, "port must be a number from 0 to 65535");
  return listen;
}

Result<int64_t> parse_duration_ms(std::string_view field, std::string_view text) {
  const std::string f(field);
  const std::string rule = "must be a positive duration like 90s, 30m, 1h, 2d (a bare number is seconds)";
  int64_t amount = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), amount);
  if (ec != std::errc() || end == text.data() || amount <= 0) return Status::Invalid(f, rule);
  const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  int64_t scale = 0;
  if (unit == "ms")
    scale = 1;
  else if (unit.empty() || unit == "s")
    scale = 1000;
  else if (unit == "m")
    scale = 60'000;
  else if (unit == "h")
    scale = 3'600'000;
  else if (unit == "d")
    scale = 86'400'000;
  else
    return Status::Invalid(f, rule);
  if (amount > std::numeric_limits<int64_t>::max() / scale) return Status::Invalid(f, "is too long");
  return amount * scale;
}

Status check_retentions(int64_t raw_ms, int64_t aggregate_ms) {
  if (aggregate_ms < raw_ms) return Status::Invalid("--aggregate-retention", "must be at least --retention");
  return Status::Ok();
}

}  // namespace pier::metrics
