#include "services/agent/lb_figures.h"

#include <spdlog/spdlog.h>

namespace pier::agent {

HaproxyLbFigures::HaproxyLbFigures(std::string stats_socket, RequestLog* log, int timeout_ms)
    : api_(std::move(stats_socket), timeout_ms), log_(log) {}

std::vector<msg::AppRequestSample> HaproxyLbFigures::sample(int64_t steady_ms) {
  std::vector<LoggedRequest> logged;
  if (log_ != nullptr) logged = log_->take();
  auto answer = api_.send(kShowStatCommand);
  Result<std::vector<StatRow>> rows =
      answer.ok() ? parse_show_stat(*answer) : Result<std::vector<StatRow>>(answer.status());
  if (!rows.ok()) {
    if (rows.status().message() != last_error_) {
      last_error_ = rows.status().message();
      spdlog::debug("no request figures from haproxy: {}", last_error_);
    }
    return {};
  }
  last_error_.clear();
  return figures_.update(*rows, logged, steady_ms);
}

}  // namespace pier::agent
