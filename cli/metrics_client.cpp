#include "cli/metrics_client.h"

#include <httplib.h>

namespace pier::cli {

Result<std::string> metrics_base_url(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  if (url.rfind(kScheme, 0) != 0) return Status::Invalid("metrics-url", "must start with http://");
  const std::size_t slash = url.find('/', kScheme.size());
  const std::string authority =
      url.substr(kScheme.size(), slash == std::string::npos ? std::string::npos : slash - kScheme.size());
  if (authority.empty()) return Status::Invalid("metrics-url", "must name a host: http://HOST:PORT");
  return std::string(kScheme) + authority;
}

Result<MetricsAnswer> metrics_get(const std::string& base_url, const std::string& path, int64_t timeout_ms) {
  httplib::Client client(base_url);
  const time_t seconds = static_cast<time_t>(timeout_ms / 1000);
  const time_t micros = static_cast<time_t>((timeout_ms % 1000) * 1000);
  client.set_connection_timeout(seconds, micros);
  client.set_read_timeout(seconds, micros);
  client.set_write_timeout(seconds, micros);
  auto res = client.Get(path);
  if (!res) return Status::Error("cannot reach pier-metrics at " + base_url + ": " + httplib::to_string(res.error()));
  MetricsAnswer answer;
  answer.status = res->status;
  answer.body = nlohmann::json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  if (answer.body.is_discarded())
    return Status::Error("pier-metrics at " + base_url + " answered " + path + " with HTTP " +
                         std::to_string(res->status) + " and no JSON (an older pier-metrics?)");
  return answer;
}

}  // namespace pier::cli
