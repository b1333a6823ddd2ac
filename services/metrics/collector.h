// The bus side of pier-metrics, without sockets of its own: takes agent samples and the registry's
// state, checks them, stores samples, keeps the latest figures for /metrics, and prunes old rows.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/bus.h"
#include "common/clock.h"
#include "common/messages.h"
#include "common/state_delta.h"
#include "common/status.h"
#include "services/metrics/autoscale_loop.h"
#include "services/metrics/latest_figures.h"
#include "services/metrics/sample_store.h"

namespace pier::metrics {

struct CollectorOptions {
  int64_t retention_ms = 3'600'000;  // rows older than this are deleted
  int64_t prune_every_ms = 60'000;   // how often to delete them (monotonic)
};

// The prefixes pier-metrics subscribes to.
std::vector<std::string> subscriptions();

// Whether a sample can be stored and shown: the host id is a DNS label and matches the topic, ids
// and apps are DNS labels, figures are finite and not negative. Names the first field that is not.
Status check_sample(const std::string& topic, const msg::HostSample& sample);

class Collector {
 public:
  Collector(SampleStore& store, LatestFigures& figures, const Clock& clock, CollectorOptions options);

  // Handles one message. Returns why when its body does not decode or breaks a rule (the caller
  // rejects it on its subscriber, which counts it); topics it does not know are ignored.
  Status handle(const bus::Envelope& envelope);

  // Deletes rows past the retention when prune_every_ms has passed since the last time (and on the
  // first call).
  void prune_if_due();

  // One turn of the service loop: waits up to timeout_ms for a message, handles it (rejecting it on
  // `subscriber` when malformed), prunes when due, and publishes the counters to the figures.
  void step(bus::Subscriber& subscriber, int timeout_ms);

  const Counters& counters() const { return counters_; }

  // Samples, states and replies (reply.*) also go to `autoscale`, and step() ticks it. Null: none.
  void set_autoscale(AutoscaleLoop* autoscale) { autoscale_ = autoscale; }
  // How step() asks the registry for the whole state (cmd.snapshot) while it holds none or missed a
  // delta. Unset: it waits for the registry's periodic state.full.
  void set_snapshot_asker(std::function<void(const std::string& reason)> ask) { ask_snapshot_ = std::move(ask); }

 private:
  SampleStore& store_;
  LatestFigures& figures_;
  const Clock& clock_;
  const CollectorOptions options_;
  Counters counters_;
  AutoscaleLoop* autoscale_ = nullptr;
  state::Follower follower_;  // the registry's state (state.full, state.delta)
  std::function<void(const std::string&)> ask_snapshot_;
  bool pruned_once_ = false;
  int64_t last_prune_ms_ = 0;
};

}  // namespace pier::metrics
