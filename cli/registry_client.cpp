#include "cli/registry_client.h"

#include <algorithm>

#include "common/codec.h"
#include "common/topics.h"

namespace pier::cli {
namespace {

constexpr int64_t kRepeatMs = 500;          // a command is re-sent (same request id) this often
constexpr int64_t kSnapshotRepeatMs = 100;  // a snapshot request is cheap: ask often while joining
constexpr int64_t kPollMs = 100;

}  // namespace

RegistryClient::RegistryClient(zmq::context_t& context, const bus::Endpoints& endpoints, const Clock& clock,
                               std::function<bool()> cancelled)
    : clock_(clock),
      cancelled_(std::move(cancelled)),
      sender_(bus::unique_sender("cli")),
      subscriber_(context, endpoints, {topic::reply_to(sender_), std::string(topic::kStateFull)}),
      publisher_(context, endpoints, sender_, clock) {}

std::optional<msg::State> RegistryClient::snapshot(int64_t timeout_ms) {
  const int64_t deadline = clock_.steady_ms() + timeout_ms;
  int64_t last_ask = -kSnapshotRepeatMs;
  while (!cancelled()) {
    const int64_t now = clock_.steady_ms();
    if (now >= deadline) break;
    if (now - last_ask >= kSnapshotRepeatMs) {
      publisher_.publish(topic::kSnapshot, msg::SnapshotRequest{"cli"});
      last_ask = now;
    }
    if (auto state = next_state(std::min(kSnapshotRepeatMs, deadline - now))) return state;
  }
  return std::nullopt;
}

std::optional<msg::Reply> RegistryClient::request(std::string_view topic, const std::string& body, int64_t timeout_ms) {
  const std::string request_id = bus::new_request_id();
  const std::string reply_topic = topic::reply_to(sender_);
  const int64_t deadline = clock_.steady_ms() + timeout_ms;
  int64_t last_sent = -kRepeatMs;
  while (!cancelled()) {
    const int64_t now = clock_.steady_ms();
    if (now >= deadline) break;
    if (now - last_sent >= kRepeatMs) {
      publisher_.publish_encoded(topic, body, request_id);
      last_sent = now;
    }
    auto envelope = subscriber_.receive(static_cast<int>(std::min(kPollMs, deadline - now)));
    if (!envelope || envelope->topic != reply_topic) continue;
    auto reply = codec::decode<msg::Reply>(envelope->body);
    if (!reply.ok()) {
      subscriber_.reject(*envelope, reply.status());
      continue;
    }
    if (reply->request_id == request_id) return *reply;
  }
  return std::nullopt;
}

std::optional<msg::State> RegistryClient::next_state(int64_t timeout_ms) {
  const int64_t deadline = clock_.steady_ms() + timeout_ms;
  while (!cancelled()) {
    const int64_t now = clock_.steady_ms();
    auto envelope = subscriber_.receive(static_cast<int>(std::max<int64_t>(0, std::min(kPollMs, deadline - now))));
    if (envelope && envelope->topic == topic::kStateFull) {
      auto state = codec::decode<msg::State>(envelope->body);
      if (state.ok()) return std::move(*state);
      subscriber_.reject(*envelope, state.status());
    }
    if (clock_.steady_ms() >= deadline) break;
  }
  return std::nullopt;
}

}  // namespace pier::cli
