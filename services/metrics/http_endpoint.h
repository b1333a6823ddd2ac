// /metrics over HTTP (cpp-httplib) on a thread of its own. The thread reads the latest figures
// through their mutex-protected snapshot and never touches a bus socket.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/status.h"
#include "services/metrics/autoscale_loop.h"
#include "services/metrics/latest_figures.h"

namespace httplib {
class Server;
}

namespace pier::metrics {

// Serves GET /metrics (Prometheus text) and GET /healthz ("ok"); with an autoscale loop also
// GET /decisions?app=A[&last=N] and GET /autoscale/dry-run?app=A (JSON; errors as {"error": why} with
// 400 bad parameter, 404 unknown app, 409 autoscaling off, 503 no state yet); anything else is 404.
class HttpEndpoint {
 public:
  HttpEndpoint(const LatestFigures& figures, const Clock& clock, const AutoscaleLoop* autoscale = nullptr);
  ~HttpEndpoint();  // stops the server and joins its thread
  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;

  // Binds `address`:`port` (port 0: one the OS picks) and starts serving on a new thread. Says why
  // when the address cannot be bound.
  Status start(const std::string& address, int port);
  // The bound port (after start).
  int port() const { return port_; }
  void stop();

 private:
  const LatestFigures& figures_;
  const Clock& clock_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<bool> listening_done_{false};
  int port_ = 0;
};

}  // namespace pier::metrics
