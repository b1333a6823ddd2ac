// The registry's message handler: a plain function of (registry, message) -> messages to send, so
// tests drive it without sockets.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/bus.h"
#include "services/registry/registry.h"

namespace pier::registry {

struct Outgoing {
  std::string topic;
  std::string body;  // encoded msgpack
  std::string request_id;
};

struct Handled {
  std::vector<Outgoing> out;
  bool state_changed = false;
  bool snapshot_requested = false;
  // The message was malformed or invalid: count and log it. A command whose header decodes (it has a
  // request id) but whose body does not is still answered, in `out`: a refusal naming the field.
  Status rejected;
};

Handled dispatch(Registry& registry, const bus::Envelope& envelope);

// At most this many waiting messages are handled before the state is published.
inline constexpr int kMaxBatch = 32;

}  // namespace pier::registry
