#include "services/agent/reconciler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "common/codec.h"
#include "common/states.h"

namespace pier::agent {

std::vector<InstanceSpec> desired_instances(const msg::State& state, const std::string& host_id) {
  std::map<std::string, const msg::AppRecord*> apps;
  for (const auto& app : state.apps) apps[app.spec.name] = &app;
  std::string subnet;
  for (const auto& host : state.hosts)
    if (host.id == host_id) subnet = host.subnet;
  std::vector<InstanceSpec> out;
  for (const auto& record : state.instances) {
    if (record.host != host_id || record.ip.empty() || record.state == states::instance::kStopped ||
        record.state == states::instance::kDraining)
      continue;
    auto app = apps.find(record.app);
    if (app == apps.end()) continue;
    // During a rollout an instance may run an earlier revision of the app (0: from an older registry).
    const msg::AppSpec* app_spec = &app->second->spec;
    int64_t revision = app->second->revision;
    if (record.revision != 0 && record.revision != revision) {
      const auto& earlier = app->second->revisions;
      const auto found = std::find_if(earlier.begin(), earlier.end(),
                                      [&](const msg::AppRevision& r) { return r.revision == record.revision; });
      if (found == earlier.end()) continue;  // the registry keeps every live revision's spec: never here
      app_spec = &found->spec;
      revision = found->revision;
    }
    InstanceSpec spec;
    spec.id = record.id;
    spec.app = record.app;
    spec.ip = record.ip;
    spec.port = app_spec->ports.empty() ? 0 : app_spec->ports[0].internal;
    spec.command = app_spec->command;
    spec.env = app_spec->env;
    spec.revision = revision;
    spec.image = app_spec->image;
    spec.tag = app_spec->tag;
    spec.cpu = app_spec->cpu;
    spec.memory_bytes = app_spec->memory_bytes;
    spec.subnet = subnet;
    spec.drain_timeout_ms = app_spec->drain_timeout_ms;
    if (app_spec->protocol == "http") spec.health_path = app_spec->health_path;
    out.push_back(std::move(spec));
  }
  return out;
}

Reconciler::Reconciler(std::string host_id, Runtime& runtime, Prober& prober, const Clock& clock,
                       ReconcilerOptions options)
    : host_id_(std::move(host_id)), runtime_(runtime), prober_(prober), clock_(clock), options_(options) {
  for (const auto& running : runtime_.list()) {
    Instance instance;
    instance.spec = running.spec;
    instance.running_spec = running.spec;
    instance.alive = true;
    instance.pid = running.pid;
    instances_[running.spec.id] = std::move(instance);
  }
}

void Reconciler::on_state(const msg::State& state) {
  has_state_ = true;
  std::map<std::string, InstanceSpec> desired;
  for (auto& spec : desired_instances(state, host_id_)) desired[spec.id] = std::move(spec);
  for (auto& [id, instance] : instances_) instance.desired = desired.count(id) != 0;
  for (auto& [id, spec] : desired) {
    auto it = instances_.find(id);
    if (it == instances_.end()) {
      Instance instance;
      instance.spec = spec;
      instance.next_start_ms = clock_.steady_ms();
      instances_[id] = std::move(instance);
      continue;
    }
    Instance& instance = it->second;
    if (instance.draining && !instance.stopping) {  // wanted again before it stopped: it serves on
      instance.draining = false;
      instance.state = states::instance::kStarting;
    }
    if (!instance.spec.same_as(spec) && instance.state == states::instance::kFailed) {
      // A new spec or a new place deserves a fresh start.
      instance.state = states::instance::kStarting;
      instance.exits.clear();
      instance.backoff_ms = 0;
      instance.reason.clear();
      instance.next_start_ms = clock_.steady_ms();
    }
    instance.spec = spec;
  }
}

void Reconciler::record_failure(Instance& instance, int code, const std::string& reason, bool host_fault) {
  const int64_t now = clock_.steady_ms();
  instance.exit_code = code;
  instance.host_fault = host_fault;
  instance.exits.push_back(now);
  while (!instance.exits.empty() && instance.exits.front() <= now - options_.exit_window_ms) instance.exits.pop_front();
  if (static_cast<int>(instance.exits.size()) >= options_.max_exits) {
    instance.state = states::instance::kFailed;
    instance.reason = reason;
    spdlog::error("instance {} of app {} on host {} failed (revision {}): {} ({} exits within {} s), not restarted",
                  instance.spec.id, instance.spec.app, host_id_, instance.spec.revision, reason, instance.exits.size(),
                  options_.exit_window_ms / 1000);
    return;
  }
  instance.backoff_ms = instance.backoff_ms == 0 ? options_.backoff_initial_ms
                                                 : std::min(instance.backoff_ms * 2, options_.backoff_max_ms);
  instance.next_start_ms = now + instance.backoff_ms;
  instance.state = states::instance::kStarting;
  instance.reason = reason + "; restarting";
  ++instance.restarts;
  spdlog::warn("instance {} of app {} on host {} (revision {}): {}; restart in {} ms", instance.spec.id,
               instance.spec.app, host_id_, instance.spec.revision, reason, instance.backoff_ms);
}

void Reconciler::on_exit(const InstanceExit& exit) {
  auto it = instances_.find(exit.id);
  if (it == instances_.end()) return;
  Instance& instance = it->second;
  instance.alive = false;
  instance.pid = 0;
  const bool asked = exit.stopped || instance.stopping;
  instance.stopping = false;
  if (!instance.desired || stopping_all_) {
    spdlog::info("instance {} of app {} on host {} stopped (exit code {})", exit.id, instance.running_spec.app,
                 host_id_, exit.code);
    instances_.erase(it);
    return;
  }
  if (asked) {  // replaced: start the new spec right away
    instance.next_start_ms = clock_.steady_ms();
    instance.state = states::instance::kStarting;
    return;
  }
  // A negative code: no exit status to read (an adopted process, a container removed behind our back).
  std::string reason = exit.code < 0 ? "exited" : "exited with code " + std::to_string(exit.code);
  if (!exit.last_output.empty()) reason += ": " + exit.last_output;
  if (exit.code < 0 && exit.last_output.empty()) reason += " (exit code unknown)";
  if (!exit.failure.empty()) reason = "cannot start: " + exit.failure;
  record_failure(instance, exit.code, reason, !exit.failure.empty());
}

void Reconciler::start(Instance& instance) {
  auto pid = runtime_.start(instance.spec);
  if (!pid.ok()) {
    record_failure(instance, -1, "cannot start: " + pid.status().message(), true);
    return;
  }
  instance.alive = true;
  instance.pid = *pid;
  instance.running_spec = instance.spec;
  instance.state = states::instance::kStarting;
  spdlog::info("instance {} of app {} on host {} started (pid {}, revision {}, {}:{})", instance.spec.id,
               instance.spec.app, host_id_, *pid, instance.spec.revision, instance.spec.ip, instance.spec.port);
}

bool Reconciler::tick() {
  for (const auto& exit : runtime_.poll()) on_exit(exit);
  const int64_t now = clock_.steady_ms();
  for (auto it = instances_.begin(); it != instances_.end();) {
    Instance& instance = it->second;
    if (stopping_all_ || (has_state_ && !instance.desired)) {
      if (!instance.alive) {
        it = instances_.erase(it);
        continue;
      }
      if (!instance.stopping && !stopping_all_ && !drained(it->first, instance, now)) {
        ++it;
        continue;
      }
      if (!instance.stopping) {
        spdlog::info("stopping instance {} of app {} on host {} (pid {})", it->first, instance.running_spec.app,
                     host_id_, instance.pid);
        runtime_.stop(it->first, options_.stop_grace_ms);
        instance.stopping = true;
      }
      ++it;
      continue;
    }
    if (instance.alive && !instance.stopping && has_state_ && !instance.running_spec.same_as(instance.spec)) {
      spdlog::info("replacing instance {} of app {} on host {}: revision {} -> {}", it->first, instance.spec.app,
                   host_id_, instance.running_spec.revision, instance.spec.revision);
      runtime_.stop(it->first, options_.stop_grace_ms);
      instance.stopping = true;
    }
    if (!instance.alive && has_state_ && instance.state != states::instance::kFailed && now >= instance.next_start_ms)
      start(instance);
    ++it;
  }
  // Everything started above is probed together: one probe timeout per tick, not one per instance.
  std::vector<Instance*> probed;
  std::vector<Prober::Target> targets;
  for (auto& [id, instance] : instances_) {
    if (!instance.alive || instance.stopping || instance.state != states::instance::kStarting) continue;
    probed.push_back(&instance);
    // The health path of the spec in effect: a changed health path changes no instance.
    targets.push_back({instance.running_spec.ip, instance.running_spec.port, instance.spec.health_path});
  }
  const std::set<std::size_t> accepting = targets.empty() ? std::set<std::size_t>{} : prober_.accepting(targets);
  for (std::size_t i = 0; i < probed.size(); ++i) {
    Instance& instance = *probed[i];
    if (instance.running_spec.port > 0 && accepting.count(i) == 0) continue;
    instance.state = states::instance::kRunning;
    instance.reason.clear();
    instance.backoff_ms = 0;
    spdlog::info("instance {} of app {} on host {} running at {}:{} (revision {})", instance.spec.id,
                 instance.running_spec.app, host_id_, instance.running_spec.ip, instance.running_spec.port,
                 instance.running_spec.revision);
  }
  const std::string reported = codec::encode(statuses());
  const bool changed = reported != last_reported_;
  last_reported_ = reported;
  return changed;
}

bool Reconciler::drained(const std::string& id, Instance& instance, int64_t now) {
  if (!instance.draining) {
    instance.draining = true;
    instance.drain_deadline_ms = now + instance.spec.drain_timeout_ms;
    instance.state = states::instance::kDraining;
    spdlog::info(
        "draining instance {} of app {} on host {}: out of the load balancer, then its connections finish "
        "(at most {} ms)",
        id, instance.running_spec.app, host_id_, instance.spec.drain_timeout_ms);
  }
  const bool timed_out = now >= instance.drain_deadline_ms;
  if (lb_servers_.count(id) != 0 && !timed_out) return false;
  const int open =
      instance.running_spec.port > 0 ? prober_.connections_to(instance.running_spec.ip, instance.running_spec.port) : 0;
  if (open > 0 && !timed_out) return false;
  if (timed_out)
    spdlog::warn("instance {} of app {} on host {}: drain timeout ({} ms) with {} connections open{}", id,
                 instance.running_spec.app, host_id_, instance.spec.drain_timeout_ms, open,
                 lb_servers_.count(id) ? " and still in HAProxy" : "");
  else
    spdlog::info("instance {} of app {} on host {} drained", id, instance.running_spec.app, host_id_);
  return true;
}

std::vector<msg::InstanceStatus> Reconciler::statuses() const {
  std::vector<msg::InstanceStatus> out;
  for (const auto& [id, instance] : instances_) {
    if ((!instance.desired && !instance.draining) || stopping_all_) continue;
    msg::InstanceStatus status;
    status.id = id;
    status.app = instance.spec.app;
    // Being replaced: a new one is on its way. Draining: it reports so until it has stopped.
    status.state = instance.draining   ? states::instance::kDraining
                   : instance.stopping ? states::instance::kStarting
                                       : instance.state;
    status.ip = instance.spec.ip;
    status.pid = instance.pid;
    status.exit_code = instance.exit_code;
    status.restarts = instance.restarts;
    status.reason = instance.reason;
    status.host_fault = instance.state == states::instance::kFailed && instance.host_fault;
    out.push_back(std::move(status));
  }
  return out;
}

std::vector<Reconciler::Process> Reconciler::processes() const {
  // The runtime knows the pid of a start that finished in the background; the reconciler may not yet.
  std::map<std::string, pid_t> pids;
  for (const auto& running : runtime_.list()) pids[running.spec.id] = running.pid;
  std::vector<Process> out;
  for (const auto& [id, instance] : instances_) {
    const pid_t pid = pids.count(id) ? pids[id] : instance.pid;
    if (instance.alive && pid > 0) out.push_back({id, instance.running_spec.app, pid});
  }
  return out;
}

void Reconciler::stop_all() { stopping_all_ = true; }

bool Reconciler::idle() const {
  return std::none_of(instances_.begin(), instances_.end(), [](const auto& entry) { return entry.second.alive; });
}

}  // namespace pier::agent
