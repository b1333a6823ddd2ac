// Whether an instance accepts connections yet: behind an interface so that tests decide.
#pragma once

#include <string>

namespace pier::agent {

class Prober {
 public:
  virtual ~Prober() = default;
  // True when a TCP connection to ip:port succeeds.
  virtual bool accepts(const std::string& ip, int port) = 0;
};

// A real TCP connect with a short timeout.
class TcpProber final : public Prober {
 public:
  explicit TcpProber(int timeout_ms = 200) : timeout_ms_(timeout_ms) {}
  bool accepts(const std::string& ip, int port) override;

 private:
  int timeout_ms_;
};

}  // namespace pier::agent
