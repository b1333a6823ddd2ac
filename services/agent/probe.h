// Whether an instance is ready for traffic: it accepts connections and, for an http app, answers its
// health path with 2xx or 3xx (the check HAProxy makes). Behind an interface so that tests decide.
#pragma once

#include <chrono>
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
    std::string http_path;  // non-empty: also GET this path, 2xx/3xx passes
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
  // The indexes of the targets that pass; by default accepts() one after the other (no HTTP).
  virtual std::set<std::size_t> accepting(const std::vector<Target>& targets) {
    std::set<std::size_t> out;
    for (std::size_t i = 0; i < targets.size(); ++i)
      if (accepts(targets[i].ip, targets[i].port)) out.insert(i);
    return out;
  }
};

// A real TCP connect with a short timeout, then for targets with an http_path a GET with libcurl.
// accepting() connects to every target at once and sends the GETs at once (curl multi), so a batch
// costs one connect timeout and one HTTP timeout at most, however many instances are still coming up.
class TcpProber final : public Prober {
 public:
  explicit TcpProber(int timeout_ms = 50, int http_timeout_ms = 200)
      : timeout_ms_(timeout_ms), http_timeout_ms_(http_timeout_ms) {}
  bool accepts(const std::string& ip, int port) override;
  std::set<std::size_t> accepting(const std::vector<Target>& targets) override;
  // From /proc/net/tcp (IPv4), read at most once per 50 ms: draining instances ask one after the other
  // in one reconciler tick, and the file takes milliseconds to read with thousands of sockets.
  int connections_to(const std::string& ip, int port) override;

 private:
  int timeout_ms_;
  int http_timeout_ms_;
  std::string proc_net_tcp_;
  std::chrono::steady_clock::time_point proc_net_tcp_read_{};
};

// Of `candidates` (indexes into targets, each accepting connections), those that need no HTTP check or
// answer theirs with 2xx/3xx within timeout_ms, all GETs in parallel.
std::set<std::size_t> passing_http_checks(const std::vector<Prober::Target>& targets,
                                          const std::set<std::size_t>& candidates, int timeout_ms);

// Counts the sockets in `proc_net_tcp` (the text of /proc/net/tcp) whose remote end is ip:port and whose
// state is SYN_SENT or ESTABLISHED. -1 when ip is not an IPv4 address.
int count_connections_to(std::string_view proc_net_tcp, const std::string& ip, int port);

}  // namespace pier::agent
