// The registry's message handler: a plain function of (registry, message) -> messages to send, so
// tests drive it without sockets.
#pragma once

#include <string>
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
  Status rejected;  // the message was malformed or invalid: count and log it, send nothing
};

Handled dispatch(Registry& registry, const bus::Envelope& envelope);

}  // namespace pier::registry
