// A bus message as the Subscriber hands it over, for tests that drive the agent's bus thread directly.
#pragma once

#include <string>

#include "common/bus.h"

namespace pier::agent::testing {

inline bus::Envelope envelope(std::string topic, std::string body) {
  bus::Envelope e;
  e.topic = std::move(topic);
  e.body = std::move(body);
  return e;
}

}  // namespace pier::agent::testing
