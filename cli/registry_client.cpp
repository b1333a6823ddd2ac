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
      subscriber_(context, endpoints,
                  {topic::reply_to(sender_), std::string(topic::kStateFull), std::string(topic::kStateDelta)}),
      publisher_(context, endpoints, sender_, clock),
      follower_(clock, kSnapshotRepeatMs) {}

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
    if (auto took = next_message(std::min(kSnapshotRepeatMs, deadline - now)); took == state::Mirror::Took::kWhole)
      return follower_.state();
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
    if (now >= deadline) break;
    if (follower_.should_ask())
      publisher_.publish(topic::kSnapshot, msg::SnapshotRequest{"cli " + follower_.ask_reason()});
    auto took = next_message(std::min(kPollMs, deadline - now));
    if (took && follower_.has_state() && (state::changed(*took) || *took == state::Mirror::Took::kCurrent))
      return follower_.state();
  }
  return std::nullopt;
}

std::optional<state::Mirror::Took> RegistryClient::next_message(int64_t timeout_ms) {
  auto envelope = subscriber_.receive(static_cast<int>(std::max<int64_t>(0, timeout_ms)));
  if (!envelope) return std::nullopt;
  auto took = follower_.take(envelope->topic, envelope->body);
  if (!took) return std::nullopt;
  if (!took->ok()) {
    subscriber_.reject(*envelope, took->status());
    return std::nullopt;
  }
  return **took;
}

}  // namespace pier::cli
