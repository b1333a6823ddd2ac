// Per-app request figures of this host's HAProxy, behind an interface so that the agent's loop can be
// driven without one. HaproxyLbFigures reads `show stat` through the Runtime API and takes the
// requests the request log received since the previous sample.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/messages.h"
#include "services/agent/haproxy_runtime.h"
#include "services/agent/haproxy_stats.h"
#include "services/agent/request_log.h"

namespace pier::agent {

class LbFigures {
 public:
  virtual ~LbFigures() = default;
  // Figures per app since the previous call; empty when HAProxy cannot be asked (not running yet).
  virtual std::vector<msg::AppRequestSample> sample(int64_t steady_ms) = 0;
};

class HaproxyLbFigures : public LbFigures {
 public:
  // `log` may be null: no latency figures then.
  HaproxyLbFigures(std::string stats_socket, RequestLog* log, int timeout_ms = 500);
  std::vector<msg::AppRequestSample> sample(int64_t steady_ms) override;

 private:
  HaproxyRuntimeApi api_;
  RequestLog* log_;
  RequestFigures figures_;
  std::string last_error_;  // logged once until it changes
};

}  // namespace pier::agent
