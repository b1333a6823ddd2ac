// Hollow hosts, as kubemark's hollow nodes: many simulated agents in one process that speak the real bus
// protocol (docs/MESSAGES.md) to a real control plane. Each host has its own id, heartbeat, samples and
// HAProxy state kept in memory; an instance placed on it is "starting" for a while, then "running"; a
// draining one stops at once. No process, no HAProxy, no network: one 2-core machine holds a fleet.
// This is the logic without sockets (HollowFleet); bench/hollow/main.cpp puts it on the bus.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/lb_fleet.h"
#include "common/messages.h"
#include "common/state_delta.h"
#include "common/status.h"

namespace pier::hollow {

struct Options {
  int hosts = 100;
  int first = 0;  // ids are <prefix><first> .. <prefix><first + hosts - 1>
  std::string prefix = "hollow-";
  int64_t heartbeat_ms = 1000;  // as pier-agent's --heartbeat-ms
  int64_t min_gap_ms = 100;     // a change is sent at once, but not more often than this per host
  int64_t start_ms = 500;       // an instance placed here runs this long after the host first sees it
  int64_t sample_ms = 2000;     // agent.sample.<host> period; 0: none
  int cpus = 8;
  int64_t memory_bytes = 32LL << 30;
  bool overlay = false;  // claim a vxlan overlay (the registry then gives routed subnets)
};

// One message to publish: the topic, the sender its header names (agent/<host>), the encoded body.
struct Outgoing {
  std::string topic;
  std::string sender;
  std::string body;
};

// What the fleet has seen and sent, for the reports of bench/scale.
struct Figures {
  int hosts = 0;
  int registered = 0;  // hollow hosts the newest state lists
  int refused = 0;     // hollow hosts the registry refuses (reply.agent/<host>)
  int64_t states = 0;
  int64_t state_revision = 0;
  int64_t state_bytes = 0;        // of the newest state.full
  int64_t state_full_bytes = 0;   // of every state.full, summed
  int64_t state_deltas = 0;       // state.delta messages (beacons included)
  int64_t state_delta_bytes = 0;  // their bodies, summed
  int64_t lb_configs = 0;         // lb.config.<host> messages for hollow hosts
  int64_t lb_bytes = 0;           // their bodies, summed
  int64_t lb_specs = 0;           // lb.spec messages (every host gets each)
  int64_t lb_spec_bytes = 0;
  int64_t heartbeats = 0;  // sent
  int64_t heartbeat_bytes = 0;
  int instances = 0;   // of the newest state, on any host
  int running = 0;     // of those, running
  int lb_current = 0;  // registered hollow hosts whose newest config serves exactly the running instances
  // Every app runs its replicas (nothing pending, placed or starting) and every registered hollow host's
  // HAProxy serves exactly the instances running: what a user waits for after a deploy.
  bool converged = false;
};

class HollowFleet {
 public:
  HollowFleet(Options options, const Clock& clock);

  // A message from the bus: state.full, state.delta, lb.spec, lb.config.<host> or reply.agent/<host> (other topics
  // are ignored). A body that does not decode is refused, changing nothing. The hosts render from
  // lb.spec (HostStatus.renders_lb) and hold one copy of it between them; lb.config.<host> counts only
  // while no spec is held.
  Status handle(const std::string& topic, const std::string& body);

  // What is due now: each host's heartbeat (every heartbeat_ms, phased across the hosts, and at once
  // after a change), and its sample.
  std::vector<Outgoing> tick();

  Figures figures() const;

 private:
  struct Instance {
    std::string app;
    std::string ip;
    int64_t seen_ms = 0;  // steady clock, when this host first saw it placed here
    bool running = false;
  };
  struct Host {
    std::string id;
    int64_t started_ms = 0;  // wall clock
    int64_t next_heartbeat_ms = 0;
    int64_t next_sample_ms = 0;
    int64_t last_sent_ms = 0;
    bool changed = false;  // since the last heartbeat (the first one comes at the host's phase)
    bool registered = false;
    std::string refusal;
    std::map<std::string, Instance> instances;
    msg::LbStatus lb;
    std::string lb_servers;  // lb::servers_digest of the servers the newest config lists
  };

  void apply_state(const msg::State& state);
  void take_lb_spec(const msg::LbSpecUpdate& update);
  msg::HostStatus status_of(const Host& host) const;
  msg::HostSample sample_of(const Host& host) const;

  Options options_;
  const Clock& clock_;
  state::Follower follower_;  // the fleet's one copy of the registry's state
  std::vector<Host> hosts_;
  std::map<std::string, std::size_t> index_;  // host id -> position in hosts_
  Figures figures_;
  std::string running_digest_;  // lb::servers_digest of the running instances of the newest state
  bool apps_settled_ = false;   // every app of the newest state runs its replicas, nothing on the way
  lb::FleetSpec lb_spec_;       // the load balancer spec all hosts share
  bool lb_resync_ = false;      // an update did not apply: ask for the whole spec
  int64_t last_lb_resync_ms_ = -1;
  static constexpr int64_t kLbResyncEveryMs = 500;
};

}  // namespace pier::hollow
