#include "services/agent/agent.h"

#include <spdlog/spdlog.h>

#include "common/codec.h"
#include "common/topics.h"

namespace pier::agent {

Agent::Agent(AgentOptions options, HostFacts facts, Runtime& runtime, Reconciler& reconciler, LbApplier& lb,
             const Clock& clock)
    : options_(std::move(options)),
      facts_(std::move(facts)),
      runtime_(runtime),
      reconciler_(reconciler),
      lb_(lb),
      clock_(clock),
      started_ms_(clock.now_ms()) {}

Status Agent::handle(const bus::Envelope& envelope) {
  if (envelope.topic == topic::kStateFull) {
    auto state = codec::decode<msg::State>(envelope.body);
    if (!state.ok()) return state.status();
    if (!reconciler_.has_state())
      spdlog::info("first state received (revision {}) on host {}", state->revision, options_.host_id);
    reconciler_.on_state(*state);
    return Status::Ok();
  }
  if (envelope.topic == topic::lb_config(options_.host_id)) {
    auto config = codec::decode<msg::LbConfig>(envelope.body);
    if (!config.ok()) return config.status();
    if (config->host_id != options_.host_id)
      return Status::Invalid("host_id", "must be this host's id (" + options_.host_id + ")");
    if (lb_.apply(*config)) changed_ = true;
    return Status::Ok();
  }
  return Status::Ok();  // a topic we did not ask for: ignore
}

msg::HostStatus Agent::host_status() const {
  msg::HostStatus status;
  status.host_id = options_.host_id;
  status.hostname = facts_.hostname;
  status.address = options_.address;
  status.cpus = facts_.cpus;
  status.memory_bytes = facts_.memory_bytes;
  status.runtime = runtime_.kind();
  status.haproxy_socket = lb_.socket_path();
  status.stats_port = options_.stats_port;
  status.started_ms = started_ms_;
  status.instances = reconciler_.statuses();
  status.lb = lb_.status();
  return status;
}

std::vector<Outgoing> Agent::tick() {
  std::vector<Outgoing> out;
  const int64_t now = clock_.steady_ms();
  reconciler_.set_lb_servers(lb_.status().servers);
  if (reconciler_.tick()) changed_ = true;
  if (lb_.tick()) changed_ = true;
  if (!reconciler_.has_state() &&
      (last_snapshot_request_ < 0 || now - last_snapshot_request_ >= options_.snapshot_request_ms)) {
    out.push_back({std::string(topic::kSnapshot), codec::encode(msg::SnapshotRequest{"start"})});
    last_snapshot_request_ = now;
  }
  if (changed_ || last_heartbeat_ < 0 || now - last_heartbeat_ >= options_.heartbeat_ms) {
    out.push_back({topic::heartbeat(options_.host_id), codec::encode(host_status())});
    last_heartbeat_ = now;
    changed_ = false;
  }
  if (last_sample_ < 0 || now - last_sample_ >= options_.sample_ms) {
    std::vector<SampledProcess> processes;
    for (const auto& p : reconciler_.processes()) processes.push_back({p.id, p.app, p.pid});
    msg::HostSample sample = sampler_.sample(options_.host_id, processes, clock_.now_ms(), now);
    if (lb_figures_ != nullptr) sample.apps = lb_figures_->sample(now);
    out.push_back({topic::sample(options_.host_id), codec::encode(sample)});
    last_sample_ = now;
  }
  return out;
}

}  // namespace pier::agent
