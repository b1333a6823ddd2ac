// The latest figures of every host, shared between the bus thread (writes) and the HTTP thread
// (reads) through a mutex. Only plain data crosses: the HTTP thread never sees a socket.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "common/messages.h"

namespace pier::metrics {

// pier-metrics' own counters, each since the process started.
struct Counters {
  uint64_t messages_received = 0;  // bus messages read (Subscriber::received())
  uint64_t messages_dropped = 0;   // malformed bus messages dropped (Subscriber::dropped())
  uint64_t samples_stored = 0;     // host samples written to the database
  uint64_t store_errors = 0;       // host samples the database refused
};

// What the registry says of an app, from the latest state.
struct AppFigures {
  int replicas = 0;  // wanted
  int running = 0;   // instances in state running
};

// The autoscaler's figures (autoscale_loop.h).
struct AutoscaleFigures {
  std::map<std::pair<std::string, std::string>, uint64_t> decisions;  // (app, rule) -> decisions recorded
  std::map<std::string, double> app_cpu_percent;                      // by app, from fresh samples only
};

// What /metrics shows, copied out under the lock.
struct Snapshot {
  std::map<std::string, msg::HostSample> hosts;  // by host id, the latest fresh sample of each
  std::map<std::string, bool> host_up;           // by host id, from the latest state: status is "up"
  std::map<std::string, AppFigures> apps;        // by app name, from the latest state
  bool has_state = false;
  int64_t state_revision = 0;
  Counters counters;
  AutoscaleFigures autoscale;
};

class LatestFigures {
 public:
  // `stale_ms`: a host whose latest sample came longer ago than this is left out of snapshots.
  explicit LatestFigures(int64_t stale_ms) : stale_ms_(stale_ms) {}

  // Makes `sample` its host's latest, received at `now_ms` (monotonic).
  void update(const msg::HostSample& sample, int64_t now_ms);
  // Takes host status and app figures from the registry's state.
  void update(const msg::State& state);
  void set_counters(const Counters& counters);
  void set_autoscale(AutoscaleFigures figures);
  Snapshot snapshot(int64_t now_ms) const;

 private:
  struct Entry {
    msg::HostSample sample;
    int64_t received_ms = 0;
  };
  const int64_t stale_ms_;
  mutable std::mutex mutex_;
  std::map<std::string, Entry> hosts_;
  std::map<std::string, bool> host_up_;
  std::map<std::string, AppFigures> apps_;
  bool has_state_ = false;
  int64_t state_revision_ = 0;
  Counters counters_;
  AutoscaleFigures autoscale_;
};

}  // namespace pier::metrics
