#include "services/registry/publication.h"

#include "common/codec.h"
#include "common/topics.h"

namespace pier::registry {

Publication::Publication(const Clock& clock, PublishOptions options, std::string stream)
    : clock_(clock), options_(options), differ_(std::move(stream)) {}

std::vector<Outgoing> Publication::due(const msg::State& state, bool changed) {
  std::vector<Outgoing> out;
  const int64_t now = clock_.steady_ms();
  bool delta_changed = false;
  if (!started_ || changed || now - last_delta_ms_ >= options_.beacon_ms) {
    const int64_t before = differ_.number();
    msg::StateDelta delta = differ_.next(state);
    delta_changed = delta.number != before;
    out.push_back({std::string(topic::kStateDelta), codec::encode(delta), {}});
    last_delta_ms_ = now;
  }
  const bool full = (!started_ || now - last_full_ms_ >= options_.full_every_ms) ||
                    (full_wanted_ && now - last_full_ms_ >= options_.min_full_gap_ms) ||
                    (options_.full_on_change && delta_changed);
  if (full) {
    msg::State whole = state;
    differ_.stamp(whole);
    out.push_back({std::string(topic::kStateFull), codec::encode(whole), {}});
    last_full_ms_ = now;
    full_wanted_ = false;
  }
  started_ = true;
  return out;
}

}  // namespace pier::registry
