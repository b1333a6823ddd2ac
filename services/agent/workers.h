// The agent's worker threads, so that the thread that reads the bus and sends heartbeats waits on
// none of the agent's slow work (runtime and Docker calls, health probes, drain checks, Runtime API
// and stats-socket round trips; `haproxy -c` and HAProxy's loads are steps of the haproxy worker,
// never waits: haproxy_master.h). Each worker owns its objects alone; they
// meet the bus thread only through the latest-wins values of a Handoff (latest.h).
//
// - instances: Reconciler (+ its Runtime and Prober): the newest state, then a tick every tick_ms;
// - haproxy: LbApplier: the newest LB config, then a tick every tick_ms;
// - sample: Sampler + LbFigures: a HostSample every sample_ms, encoded for the bus thread;
// - overlay (fleets only): Overlay + ProbeListener: the overlay's kernel entries from the newest state,
//   and a check of every peer through it every probe_ms.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/messages.h"
#include "services/agent/docker_firewall.h"
#include "services/agent/latest.h"
#include "services/agent/lb_applier.h"
#include "services/agent/lb_figures.h"
#include "services/agent/overlay.h"
#include "services/agent/peer_probe.h"
#include "services/agent/proc_stats.h"
#include "services/agent/reconciler.h"

namespace pier::agent {

// What the reconciler reported at its last tick.
struct InstancesView {
  std::vector<msg::InstanceStatus> statuses;
  std::vector<SampledProcess> processes;
};

// What the haproxy worker runs next: a config lbgen rendered for this host (lb.config.<host>), or, when
// `template_text` is set, config.spec (the fleet's spec with this host's fields, lb.spec) to render with
// it first: rendering thousands of servers is no work for the thread that sends heartbeats.
struct LbOrder {
  msg::LbConfig config;
  std::string template_text;
};

// Everything the agent's threads hand each other, newest value wins.
struct Handoff {
  Wakeup changed;                                         // the bus thread waits on it too: a change leaves at once
  Mailbox<msg::State> state;                              // bus thread -> instances
  Mailbox<LbOrder> lb_config;                             // bus thread -> haproxy
  Snapshot<InstancesView> instances{&changed};            // instances -> bus thread (heartbeats), sample
  Snapshot<msg::LbStatus> lb{&changed};                   // haproxy -> bus thread (heartbeats), instances
  Mailbox<std::string> sample;                            // sample -> bus thread: an encoded HostSample
  Mailbox<msg::State> overlay_state;                      // bus thread -> overlay (fleets only)
  Snapshot<std::vector<msg::PeerReach>> peers{&changed};  // overlay -> bus thread (heartbeats)
};

// When a worker's current step began (steady ms), -1 while it waits for work: what StallWatch reads.
class Progress {
 public:
  void begin(int64_t steady_ms) { busy_since_.store(steady_ms); }
  void end() { busy_since_.store(-1); }
  int64_t busy_since() const { return busy_since_.load(); }

 private:
  std::atomic<int64_t> busy_since_{-1};
};

// A named thread that runs `loop` until stop() (or destruction) requests it to end, then joins it.
// `loop` waits only in ways the stop token ends (Mailbox::take, a condition_variable_any).
class Worker {
 public:
  Worker(std::string name, std::string work, std::function<void(std::stop_token, Progress&)> loop);
  ~Worker() { stop(); }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void stop();
  const std::string& name() const { return name_; }
  // What its steps do, in a few words, for the operator who reads that it is stuck.
  const std::string& work() const { return work_; }
  const Progress& progress() const { return progress_; }

 private:
  std::string name_;
  std::string work_;
  Progress progress_;
  std::jthread thread_;  // last: it starts once the rest is built
};

// Applies the newest state, then ticks (with the LB servers of the newest LbStatus), every tick_ms
// or at once when a state comes; publishes the statuses and processes after every tick.
std::unique_ptr<Worker> start_instances_worker(Reconciler& reconciler, Handoff& handoff, const Clock& clock,
                                               int64_t tick_ms = 50);
// Applies the newest LB config, then ticks, every tick_ms (every 5 ms while a check or a load is in
// progress) or at once when a config comes; publishes the LbStatus after every step.
std::unique_ptr<Worker> start_haproxy_worker(LbApplier& lb, Handoff& handoff, const Clock& clock, int64_t tick_ms = 50);
// A HostSample (host and process figures, per-app request figures when `figures` is set) at once and
// then every sample_ms, put encoded into handoff.sample.
std::unique_ptr<Worker> start_sample_worker(std::string host_id, Sampler& sampler, LbFigures* figures, Handoff& handoff,
                                            const Clock& clock, int64_t sample_ms);

struct OverlayWorkerOptions {
  int64_t probe_ms = 1000;  // every peer checked this often
  int probe_timeout_ms = 500;
  // Docker hosts whose dockerd manages iptables: pier's rules for the platform networks, checked on every
  // state and every firewall_ms (dockerd puts its own rules first whenever it makes a network).
  DockerFirewall* firewall = nullptr;
  std::vector<std::string> firewall_networks;
  int64_t firewall_ms = 10'000;
  // Called (on the worker) when this host's subnet is first known or changes, before the firewall: the
  // docker runtime makes its bridge network there. An error is logged and tried again at the next state.
  std::function<Status(const std::string& subnet)> on_subnet;
};

// Applies the newest state to the overlay (and listens for peers' checks on this host's subnet's first
// address), and every probe_ms checks every peer through it; a change of any peer's reachability is a
// change of handoff.peers (a round trip time alone is not).
std::unique_ptr<Worker> start_overlay_worker(Overlay& overlay, ProbeListener& listener, Handoff& handoff,
                                             const Clock& clock, OverlayWorkerOptions options = {});

}  // namespace pier::agent
