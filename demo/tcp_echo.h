// A raw TCP echo server: every byte a client sends comes back to it. One thread per connection.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"

namespace pier::demo {

class TcpEcho {
 public:
  TcpEcho() = default;
  ~TcpEcho();
  TcpEcho(const TcpEcho&) = delete;
  TcpEcho& operator=(const TcpEcho&) = delete;

  // Binds host:port (IPv4) and starts listening.
  Status bind(const std::string& host, int port);
  // Accepts connections until stop() is called; returns then.
  void serve();
  // Unblocks serve() and closes every open connection (waits up to 2 s for their threads).
  void stop();

 private:
  struct Shared;
  std::shared_ptr<Shared> shared_;
  int listen_fd_ = -1;
};

}  // namespace pier::demo
