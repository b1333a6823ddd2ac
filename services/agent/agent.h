// The agent's loop body, without sockets: turns the messages it receives into work for the
// reconciler and the LB applier, and says what to publish when (snapshot requests until a first
// state, heartbeats every interval and on change, samples). main.cpp owns the bus sockets.
#pragma once

#include <string>
#include <vector>

#include "common/bus.h"
#include "common/clock.h"
#include "services/agent/lb_applier.h"
#include "services/agent/lb_figures.h"
#include "services/agent/proc_stats.h"
#include "services/agent/reconciler.h"

namespace pier::agent {

struct AgentOptions {
  std::string host_id;
  std::string address = "127.0.0.1";
  std::string state_dir = "/var/lib/pier/agent";
  int stats_port = 8404;
  int heartbeat_ms = 1000;
  int sample_ms = 2000;
  int snapshot_request_ms = 500;
};

struct Outgoing {
  std::string topic;
  std::string body;
};

class Agent {
 public:
  Agent(AgentOptions options, HostFacts facts, Runtime& runtime, Reconciler& reconciler, LbApplier& lb,
        const Clock& clock);

  // A message from the bus (state.full, lb.config.<me>). A body that does not decode is an error
  // value for Subscriber::reject; nothing changes then.
  Status handle(const bus::Envelope& envelope);
  // Reconciles, watches HAProxy, and returns what is due for publication now.
  std::vector<Outgoing> tick();
  msg::HostStatus host_status() const;
  // Where samples take their per-app request figures (HostSample.apps) from; null: none.
  void set_lb_figures(LbFigures* figures) { lb_figures_ = figures; }

 private:
  AgentOptions options_;
  HostFacts facts_;
  Runtime& runtime_;
  Reconciler& reconciler_;
  LbApplier& lb_;
  const Clock& clock_;
  Sampler sampler_;
  int64_t started_ms_;
  bool changed_ = true;
  int64_t last_heartbeat_ = -1;
  int64_t last_sample_ = -1;
  int64_t last_snapshot_request_ = -1;
  LbFigures* lb_figures_ = nullptr;
};

}  // namespace pier::agent
