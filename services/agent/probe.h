// Whether an instance accepts connections yet: behind an interface so that tests decide.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace pier::agent {

class Prober {
 public:
  virtual ~Prober() = default;
  struct Target {
    std::string ip;
    int port = 0;
  };
  // True when a TCP connection to ip:port succeeds.
  virtual bool accepts(const std::string& ip, int port) = 0;
  // The indexes of the targets that accept; by default one after the other.
  virtual std::set<std::size_t> accepting(const std::vector<Target>& targets) {
    std::set<std::size_t> out;
    for (std::size_t i = 0; i < targets.size(); ++i)
      if (accepts(targets[i].ip, targets[i].port)) out.insert(i);
    return out;
  }
};

// A real TCP connect with a short timeout. accepting() connects to every target at once, so a batch
// costs one timeout at most, however many instances are still coming up.
class TcpProber final : public Prober {
 public:
  explicit TcpProber(int timeout_ms = 50) : timeout_ms_(timeout_ms) {}
  bool accepts(const std::string& ip, int port) override;
  std::set<std::size_t> accepting(const std::vector<Target>& targets) override;

 private:
  int timeout_ms_;
};

}  // namespace pier::agent
