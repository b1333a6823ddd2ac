// A client of HAProxy's Runtime API (the admin "stats socket", a unix socket): one connection per
// call, as HAProxy's non-interactive mode expects. No process is spawned (socat costs ~20 ms a call).
#pragma once

#include <string>

#include "common/status.h"

namespace pier::agent {

class HaproxyRuntimeApi {
 public:
  explicit HaproxyRuntimeApi(std::string socket_path, int timeout_ms = 2000)
      : socket_path_(std::move(socket_path)), timeout_ms_(timeout_ms) {}

  // Connects, sends `command` (one line; several commands may be joined by ';'), and returns the whole
  // answer, read until HAProxy closes the connection. An Error when the socket cannot be reached or
  // does not answer within the timeout (per connect, write and read).
  Result<std::string> send(const std::string& command) const;

  const std::string& socket_path() const { return socket_path_; }

 private:
  std::string socket_path_;
  int timeout_ms_;
};

}  // namespace pier::agent
