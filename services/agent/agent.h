// The agent's bus thread, without the sockets' ownership: decodes what it receives and hands it to
// the workers (workers.h), and says what to publish when (snapshot requests until a first state,
// heartbeats every interval and on change, the samples the sample worker made) from the newest
// values the workers left in the Handoff. It never waits on a worker, so heartbeats leave on time
// whatever HAProxy, the runtime or a probe is doing. main.cpp owns the bus sockets.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "common/bus.h"
#include "common/clock.h"
#include "common/lb_fleet.h"
#include "common/state_delta.h"
#include "services/agent/heartbeat_schedule.h"
#include "services/agent/proc_stats.h"
#include "services/agent/stall_watch.h"
#include "services/agent/workers.h"

namespace pier::agent {

struct AgentOptions {
  std::string host_id;
  std::string address = "127.0.0.1";
  std::string state_dir = "/var/lib/pier/agent";
  int stats_port = 8404;
  int heartbeat_ms = 1000;
  int sample_ms = 2000;
  int snapshot_request_ms = 500;
  int stuck_worker_ms = 5000;  // a worker step longer than this is logged (once, and again when it ends)
  // This host's end of the overlay (Overlay::info() after setup); an empty mode: none, and no state goes to
  // handoff.overlay_state.
  msg::OverlayInfo overlay;
};

struct Outgoing {
  std::string topic;
  std::string body;
};

class Agent {
 public:
  // `runtime_kind` and `haproxy_socket` are the facts heartbeats report (Runtime::kind(),
  // LbApplier::socket_path()).
  Agent(AgentOptions options, HostFacts facts, std::string runtime_kind, std::string haproxy_socket, Handoff& handoff,
        const Clock& clock);

  // A message from the bus (state.full, lb.spec, lb.config.<me>), handed to its worker. A body that does
  // not decode is an error value for Subscriber::reject; nothing changes then. The load balancer spec
  // every host shares (lb.spec) is kept here and, when it changed, handed to the haproxy worker to
  // render with this host's fields; an update that does not apply to the spec held makes the next tick
  // ask lbgen for the whole. lb.config.<me> (an lbgen older than lb.spec) is taken only while no spec
  // is held.
  Status handle(const bus::Envelope& envelope);
  // What is due for publication now. Logs a heartbeat that leaves late and a watched worker stuck.
  std::vector<Outgoing> tick();
  // One turn on the bus: waits for messages up to max_wait_ms (less when a heartbeat is due sooner),
  // handles what came (at most 100 messages), publishes what tick() returns. A signal interrupting the
  // wait ends the turn early.
  void step(bus::Subscriber& subscriber, bus::Publisher& publisher, int max_wait_ms);
  // Logs when this worker's step runs longer than stuck_worker_ms, and when it ends.
  void watch(const Worker& worker);

  msg::HostStatus host_status() const;
  bool has_state() const { return follower_.has_state(); }
  // Why the registry refuses this host's heartbeats (its reply topic), or empty.
  const std::string& refusal() const { return refusal_; }
  int64_t longest_heartbeat_gap_ms() const { return heartbeats_.longest_gap_ms(); }

 private:
  void check_workers(int64_t now);
  // Logs, once each, the instances this host's HAProxy finds down while another host's finds them up.
  void log_reach_faults(const msg::State& state);
  Status take_lb_spec(const msg::LbSpecUpdate& update);

  AgentOptions options_;
  HostFacts facts_;
  std::string runtime_kind_;
  std::string haproxy_socket_;
  Handoff& handoff_;
  const Clock& clock_;
  int64_t started_ms_;
  state::Follower follower_;  // the registry's state (state.full, state.delta)
  HeartbeatSchedule heartbeats_;
  uint64_t reported_changes_ = 0;  // instance and LB changes, as of the last heartbeat
  struct Watched {
    const Worker* worker;
    StallWatch watch;
  };
  std::vector<Watched> watched_;
  std::set<std::string> logged_faults_;  // instances of reach::faults() for this host, as last logged
  std::string refusal_;                  // why the registry refuses this host's heartbeats, as last logged
  lb::FleetSpec lb_spec_;                // the load balancer spec every host shares, as last applied
  std::string lb_resync_;                // why the next tick asks lbgen for the whole spec; empty: no need
  int64_t last_lb_resync_ = -1;
};

}  // namespace pier::agent
