// The CLI's side of the bus: ask pier-registry for the state, send a command and wait for its reply,
// follow the state (state.full, state.delta). One client per thread (its sockets belong to the thread that made it).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <zmq.hpp>

#include "common/bus.h"
#include "common/clock.h"
#include "common/messages.h"
#include "common/state_delta.h"

namespace pier::cli {

class RegistryClient {
 public:
  // Subscribes to reply.<sender>, state.full and state.delta before anything is published. `cancelled` (optional)
  // is polled while waiting; when it returns true every wait gives up.
  RegistryClient(zmq::context_t& context, const bus::Endpoints& endpoints, const Clock& clock,
                 std::function<bool()> cancelled = {});

  // Asks for a snapshot every 100 ms until a state.full arrives (which also proves that the
  // subscription is live, so no reply can be missed afterwards). nullopt after timeout_ms.
  std::optional<msg::State> snapshot(int64_t timeout_ms);

  // Publishes the command under one request id, again every 500 ms with the same id, until the
  // registry's reply to that id arrives. nullopt after timeout_ms.
  std::optional<msg::Reply> request(std::string_view topic, const std::string& body, int64_t timeout_ms);

  // The state as of the next state message within timeout_ms: a change, or the registry's beacon (every
  // second) saying that nothing changed. After a missed delta it asks for the whole state and waits for it.
  std::optional<msg::State> next_state(int64_t timeout_ms);

  const std::string& sender() const { return sender_; }

 private:
  bool cancelled() const { return cancelled_ && cancelled_(); }
  // Waits up to timeout_ms for one message; a state message goes into the follower (nullopt: none came,
  // another topic, or a body that does not decode, rejected).
  std::optional<state::Mirror::Took> next_message(int64_t timeout_ms);

  const Clock& clock_;
  std::function<bool()> cancelled_;
  std::string sender_;
  bus::Subscriber subscriber_;
  bus::Publisher publisher_;
  state::Follower follower_;
};

}  // namespace pier::cli
