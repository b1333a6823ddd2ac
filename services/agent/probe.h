// Whether an instance accepts connections yet: behind an interface so that tests decide.
#pragma once

#include <set>
#include <string>
#include <string_view>
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
  // Connections from this host to ip:port that are open or opening (HAProxy's to an instance): 0 when
  // unknown.
  virtual int connections_to(const std::string& ip, int port) {
    (void)ip;
    (void)port;
    return 0;
  }
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
  // From /proc/net/tcp (IPv4).
  int connections_to(const std::string& ip, int port) override;

 private:
  int timeout_ms_;
};

// Counts the sockets in `proc_net_tcp` (the text of /proc/net/tcp) whose remote end is ip:port and whose
// state is SYN_SENT or ESTABLISHED. -1 when ip is not an IPv4 address.
int count_connections_to(std::string_view proc_net_tcp, const std::string& ip, int port);

}  // namespace pier::agent
