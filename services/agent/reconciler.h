// Keeps what runs on this host equal to what the latest State places on it. Pure logic over a Clock,
// a Runtime and a Prober; the agent's loop calls on_state() for every state and tick() often.
//
// - desired: instances placed on this host with an IP, whose app exists and that are neither `stopped`
//   nor `draining`;
// - missing ones are started; ones no longer desired drain first (reported `draining` until they stop):
//   they are stopped once HAProxy no longer lists them and no connection to them is open, or after the
//   app's drain timeout (never before the first state, so that a restarted agent does not kill what it
//   adopted);
// - `starting` becomes `running` once it passes the check HAProxy makes: a TCP connect to ip:port, and for
//   http apps GET health_path answering 2xx/3xx (the registry's rollouts count `running` as healthy);
// - each instance runs the spec of its own revision (InstanceRecord.revision: during a rollout, old and
//   new revisions run side by side);
// - an instance that exits is restarted after a backoff (doubling); after max_exits exits within
//   exit_window_ms it is `failed` and stays down until its spec changes or it is placed anew; when the
//   runtime could not start it (rather than the app exiting), the status says `host_fault`, and the
//   registry places it on another host;
// - a changed spec (the app's revision, the instance's IP or port) replaces the instance.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/messages.h"
#include "common/states.h"
#include "services/agent/probe.h"
#include "services/agent/runtime.h"

namespace pier::agent {

struct ReconcilerOptions {
  int stop_grace_ms = 5000;
  int64_t backoff_initial_ms = 500;
  int64_t backoff_max_ms = 10'000;
  int max_exits = 5;
  int64_t exit_window_ms = 60'000;
};

// The specs this host should run according to `state`.
std::vector<InstanceSpec> desired_instances(const msg::State& state, const std::string& host_id);

class Reconciler {
 public:
  // Takes over what the runtime already runs (adopted instances count as desired until a state says).
  Reconciler(std::string host_id, Runtime& runtime, Prober& prober, const Clock& clock, ReconcilerOptions options = {});

  void on_state(const msg::State& state);
  // The servers the host's HAProxy runs now (LbStatus::servers): an instance still among them is not
  // stopped yet.
  void set_lb_servers(const std::vector<std::string>& servers) { lb_servers_ = {servers.begin(), servers.end()}; }
  bool has_state() const { return has_state_; }
  // Collects exits, starts, stops, probes. Returns whether statuses() changed.
  bool tick();
  // Every desired instance as reported in heartbeats, sorted by id.
  std::vector<msg::InstanceStatus> statuses() const;

  struct Process {
    std::string id;
    std::string app;
    pid_t pid = 0;
  };
  // The processes that run now (for samples).
  std::vector<Process> processes() const;
  // Asks every instance to stop (agent exit with --stop-on-exit); tick() until idle() reports them gone.
  void stop_all();
  bool idle() const;

 private:
  struct Instance {
    InstanceSpec spec;          // what should run
    InstanceSpec running_spec;  // what the live process was started from
    bool desired = true;
    bool alive = false;
    bool stopping = false;
    pid_t pid = 0;
    std::string state = states::instance::kStarting;  // starting | running | failed | draining (states.h)
    int exit_code = 0;
    int restarts = 0;
    std::string reason;
    bool host_fault = false;  // the last failure was the runtime's (could not start), not the app's
    bool draining = false;    // no longer wanted: waiting for it to leave HAProxy and its connections
    int64_t drain_deadline_ms = 0;
    std::deque<int64_t> exits;  // steady times of recent unexpected exits
    int64_t next_start_ms = 0;
    int64_t backoff_ms = 0;
  };
  void on_exit(const InstanceExit& exit);
  void start(Instance& instance);
  void record_failure(Instance& instance, int code, const std::string& reason, bool host_fault);
  // Whether an instance no longer wanted may stop now: out of HAProxy and no connection to it left, or
  // its drain timeout passed. The first call starts the drain.
  bool drained(const std::string& id, Instance& instance, int64_t now);

  std::string host_id_;
  std::set<std::string> lb_servers_;
  Runtime& runtime_;
  Prober& prober_;
  const Clock& clock_;
  ReconcilerOptions options_;
  bool has_state_ = false;
  bool stopping_all_ = false;
  std::map<std::string, Instance> instances_;
  std::string last_reported_;
};

}  // namespace pier::agent
