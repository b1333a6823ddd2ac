#include "services/metrics/command_retry.h"

#include "common/bus.h"

namespace pier::metrics {

CommandRetry::CommandRetry(Publish publish, const Clock& clock, int64_t repeat_ms, int64_t give_up_ms)
    : publish_(std::move(publish)), clock_(clock), repeat_ms_(repeat_ms), give_up_ms_(give_up_ms) {}

const CommandRetry::Pending& CommandRetry::send(const std::string& key, std::string_view topic, std::string body) {
  const int64_t now = clock_.steady_ms();
  Pending p{key, std::string(topic), std::move(body), bus::new_request_id(), now, now};
  publish_(p.topic, p.body, p.request_id);
  return pending_[key] = std::move(p);
}

std::vector<CommandRetry::Pending> CommandRetry::resend_due() {
  const int64_t now = clock_.steady_ms();
  std::vector<Pending> given_up;
  for (auto it = pending_.begin(); it != pending_.end();) {
    Pending& p = it->second;
    if (now - p.first_sent_ms >= give_up_ms_) {
      given_up.push_back(std::move(p));
      it = pending_.erase(it);
      continue;
    }
    if (now - p.last_sent_ms >= repeat_ms_) {
      publish_(p.topic, p.body, p.request_id);
      p.last_sent_ms = now;
    }
    ++it;
  }
  return given_up;
}

std::optional<CommandRetry::Pending> CommandRetry::answer(const msg::Reply& reply) {
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (it->second.request_id != reply.request_id) continue;
    Pending p = std::move(it->second);
    pending_.erase(it);
    return p;
  }
  return std::nullopt;
}

}  // namespace pier::metrics
