// Whether the overlay works, seen from each host: the agent answers TCP connects on its subnet's first
// address (ProbeListener), and connects to every peer's (probe_peers), reporting PeerReach in heartbeats.
#pragma once

#include <string>
#include <thread>
#include <vector>

#include "common/messages.h"
#include "common/status.h"
#include "services/agent/overlay_plan.h"

namespace pier::agent {

struct ProbeTarget {
  std::string host;
  std::string ip;     // the peer's probe address: its subnet's first address
  int port = 0;       // its overlay.probe_port
  std::string error;  // not empty: not probed, reported unreachable with this reason
};

// The other hosts of the state that are not down and run an overlay (overlay.mode set). A host that
// `refused` names (the plan wrote no entry for it) gets error "no overlay entry: <field>: <rule>", one
// without a usable subnet or probe port an error saying so.
std::vector<ProbeTarget> probe_targets(const msg::State& state, const std::string& host_id,
                                       const std::vector<Refusal>& refused);

// Connects to every target at once (non-blocking, one poll), waiting at most timeout_ms in all; one
// PeerReach per target, in order: reachable with the connect's round trip, or the error ("connect timed
// out after 500 ms", "connection refused", "no route to host", ...).
std::vector<msg::PeerReach> probe_peers(const std::vector<ProbeTarget>& targets, int timeout_ms);

// A TCP listener that accepts and closes at once, on a thread of its own. IP_FREEBIND: the address
// need not be local yet (a docker bridge or local route that comes later).
class ProbeListener {
 public:
  ProbeListener() = default;
  ~ProbeListener();
  ProbeListener(const ProbeListener&) = delete;
  ProbeListener& operator=(const ProbeListener&) = delete;

  // Listens on ip:port; when already listening on another address or port, moves there. Port 0: one
  // the OS picks (port() says which).
  Status listen(const std::string& ip, int port);
  // Stops the thread and closes the socket; listen() may be called again.
  void stop();
  int port() const { return bound_port_; }
  const std::string& ip() const { return ip_; }

 private:
  std::thread thread_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // an eventfd that stop() writes to
  std::string ip_;
  int port_ = 0;  // as asked
  int bound_port_ = 0;
};

}  // namespace pier::agent
