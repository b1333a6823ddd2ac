#include "services/lbgen/bus_loop.h"

#include <cerrno>

#include "common/codec.h"
#include "common/state_delta.h"
#include "common/topics.h"

namespace pier::lbgen {

BusLoop::BusLoop(Generator& generator, bus::Publisher& publisher, const Clock& clock)
    : generator_(generator), publisher_(publisher), clock_(clock), follower_(clock, kSnapshotRequestEveryMs) {}

void BusLoop::publish(const Publications& out) {
  if (out.spec) {
    publisher_.publish(topic::kLbSpec, *out.spec);
    if (out.spec->base.empty()) last_whole_ms_ = clock_.steady_ms();
  }
  for (const auto& config : out.configs) publisher_.publish(topic::lb_config(config.host_id), config);
}

void BusLoop::publish_whole_if_asked() {
  if (!whole_asked_ || clock_.steady_ms() - last_whole_ms_ < kWholeSpecEveryMs) return;
  auto whole = generator_.whole();
  if (!whole) return;  // no state yet: asked again once there is one, as the agent keeps asking
  publisher_.publish(topic::kLbSpec, *whole);
  last_whole_ms_ = clock_.steady_ms();
  whole_asked_ = false;
}

void BusLoop::step(bus::Subscriber& subscriber, int timeout_ms) {
  if (follower_.should_ask()) publisher_.publish(topic::kSnapshot, msg::SnapshotRequest{follower_.ask_reason()});
  publish(generator_.due(clock_.steady_ms()));
  publish_whole_if_asked();
  // The changes waiting are applied to the mirror first; the state they make is built once.
  bool changed = false;
  for (int i = 0; i < kMaxStatesPerStep; ++i) {
    std::optional<bus::Envelope> envelope;
    try {
      envelope = subscriber.receive(i == 0 ? timeout_ms : 0);
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;  // a signal landed during the poll: the caller looks at its stop flag
    }
    if (!envelope) break;
    if (envelope->topic.starts_with(topic::kLbResyncPrefix)) {
      auto request = codec::decode<msg::LbSpecRequest>(envelope->body);
      if (!request.ok()) {
        subscriber.reject(*envelope, request.status());
        continue;
      }
      whole_asked_ = true;
      continue;
    }
    auto took = follower_.take(envelope->topic, envelope->body);
    if (!took) continue;
    if (!took->ok()) {
      subscriber.reject(*envelope, took->status());
      continue;
    }
    changed = changed || state::changed(**took);
  }
  if (changed) publish(generator_.on_state(follower_.state(), clock_.steady_ms()));
}

}  // namespace pier::lbgen
