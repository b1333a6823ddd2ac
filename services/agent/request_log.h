// HAProxy's request log, for a real p95 latency: HAProxy 2.6's stats give only averages. The agent
// has the HTTP frontends that route to an app needing a p95 (LbBackend.request_log: its autoscale policy
// targets p95_latency_ms) log each request (`option httplog`, raw, no syslog header) to a unix datagram
// socket that the agent binds and reads on a thread of its own. Only those: a log line per request
// costs HAProxy and the agent CPU (bench/data-plane measured ~8 % of the throughput on 2 cores).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/messages.h"
#include "common/status.h"
#include "services/agent/haproxy_stats.h"

namespace pier::agent {

// `config` with, in each `frontend` section named in `frontends` whose mode is http, the lines that log
// each request to the unix datagram socket `socket_path`. Unchanged when `socket_path` is empty. Pure.
std::string with_request_log(const std::string& config, const std::string& socket_path,
                             const std::set<std::string>& frontends);
// The names of the http frontends of `spec` with a route to a backend that asks for the request log.
std::set<std::string> frontends_to_log(const msg::LbSpec& spec);

class RequestLog {
 public:
  // Binds a unix datagram socket at `path` (a stale file there is replaced) and starts reading it.
  // At most `max_pending` requests wait for take(); more are counted in dropped().
  static Result<std::unique_ptr<RequestLog>> open(const std::string& path, std::size_t max_pending = 200'000);
  ~RequestLog();  // stops reading and removes the socket file
  RequestLog(const RequestLog&) = delete;
  RequestLog& operator=(const RequestLog&) = delete;

  // The requests logged since the previous call, in arrival order.
  std::vector<LoggedRequest> take();
  uint64_t dropped() const { return dropped_; }
  const std::string& path() const { return path_; }

 private:
  RequestLog(std::string path, int fd, std::size_t max_pending);
  void read_loop();

  const std::string path_;
  const int fd_;
  const std::size_t max_pending_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> dropped_{0};
  std::mutex mutex_;
  std::vector<LoggedRequest> pending_;
  std::thread reader_;
};

}  // namespace pier::agent
