#include "services/registry/registry.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

#include "common/codec.h"
#include "common/reach.h"
#include "common/states.h"
#include "common/topics.h"
#include "common/validate.h"
#include "services/registry/rollout.h"

namespace pier::registry {
namespace {

namespace instance_state = states::instance;
namespace host_state = states::host;

// Two records of the wire alike, field for field (their encodings are equal).
template <typename T>
bool same_encoded(const T& a, const T& b) {
  return codec::encode(a) == codec::encode(b);
}

}  // namespace

msg::Reply error_reply(const std::string& request_id, const Status& status) {
  msg::Reply reply;
  reply.request_id = request_id;
  reply.ok = false;
  reply.field = status.field();
  reply.rule = status.rule();
  reply.message = status.message();
  return reply;
}

Registry::Registry(Store& store, const Clock& clock, const Config& config)
    : store_(store),
      clock_(clock),
      host_prefix_(config.host_prefix),
      host_down_after_ms_(config.host_down_after_ms),
      started_ms_(clock.steady_ms()) {
  if (config.host_down_after_ms <= 0) throw std::invalid_argument("host-down-after-ms must be positive");
  auto network = net::parse_cidr(config.platform_network);
  if (!network.ok()) throw std::invalid_argument("platform network: " + network.status().message());
  if (config.host_prefix <= network->prefix || config.host_prefix > 30)
    throw std::invalid_argument("host subnet prefix must be longer than the platform network's and at most /30");
  platform_ = *network;
  auto docker = net::parse_cidr(config.docker_network);
  if (!docker.ok()) throw std::invalid_argument("docker network: " + docker.status().message());
  if (config.host_prefix <= docker->prefix)
    throw std::invalid_argument("host subnet prefix must be longer than the docker network's");
  docker_network_ = *docker;
  auto routed = net::parse_cidr(config.routed_network);
  if (!routed.ok()) throw std::invalid_argument("routed network: " + routed.status().message());
  if (config.host_prefix <= routed->prefix)
    throw std::invalid_argument("host subnet prefix must be longer than the routed network's");
  routed_network_ = *routed;
  auto snapshot = store_.load();
  if (!snapshot.ok()) throw std::runtime_error(snapshot.status().message());
  state_ = std::move(snapshot->state);
  next_instance_ = snapshot->next_instance;
  subnet_index_ = std::move(snapshot->subnet_index);
}

// ---------------------------------------------------------------------------------------------
// Changes: mutate() and the edits it collects.

template <typename Change>
Result<bool> Registry::mutate(const char* what, Change change, std::optional<AppliedRequest> request, bool durable) {
  edit_.emplace();
  edit_->next_instance_before = next_instance_;
  Result<bool> changed = change();
  if (!changed.ok() || !*changed) {
    restore();
    return changed;
  }
  if (!edit_->reconciled) reconcile();
  ++state_.revision;
  Changes changes = changes_made();
  changes.durable = durable;
  if (request) {
    request->reply.revision = state_.revision;
    changes.request = std::move(request);
  }
  if (Status committed = store_.commit(changes); !committed.ok()) {
    spdlog::error("{} failed in the store: {}", what, committed.message());
    --state_.revision;
    restore();
    return committed;
  }
  edit_.reset();
  return true;
}

void Registry::restore() {
  Edit& edit = *edit_;
  if (edit.hosts_before) state_.hosts = std::move(*edit.hosts_before);
  if (edit.apps_before) state_.apps = std::move(*edit.apps_before);
  if (edit.instances_before) state_.instances = std::move(*edit.instances_before);
  if (edit.subnet_index_before) subnet_index_ = std::move(*edit.subnet_index_before);
  next_instance_ = edit.next_instance_before;
  edit_.reset();
}

Changes Registry::changes_made() const {
  Changes changes;
  changes.revision = state_.revision;
  changes.next_instance = next_instance_;
  changes.time_ms = clock_.now_ms();
  for (const auto& id : edit_->hosts) {
    const msg::HostRecord* host = find_host(id);
    if (host == nullptr) {
      changes.hosts[id] = std::nullopt;
      continue;
    }
    StoredHost stored{*host, subnet_index_.at(id)};
    stored.record.last_seen_ms = 0;  // memory only
    changes.hosts[id] = std::move(stored);
  }
  for (const auto& name : edit_->apps) {
    const msg::AppRecord* app = find_app(name);
    changes.apps[name] = app == nullptr ? std::nullopt : std::optional(*app);
  }
  for (const auto& id : edit_->instances) {
    const msg::InstanceRecord* instance = find_instance(id);
    changes.instances[id] = instance == nullptr ? std::nullopt : std::optional(*instance);
  }
  return changes;
}

void Registry::put_host(const msg::HostRecord& host) {
  if (!edit_->hosts_before) edit_->hosts_before = state_.hosts;
  edit_->hosts.insert(host.id);
  auto at = std::lower_bound(state_.hosts.begin(), state_.hosts.end(), host.id,
                             [](const msg::HostRecord& h, const std::string& id) { return h.id < id; });
  if (at != state_.hosts.end() && at->id == host.id)
    *at = host;
  else
    state_.hosts.insert(at, host);
}

void Registry::put_app(const msg::AppRecord& app) {
  if (!edit_->apps_before) edit_->apps_before = state_.apps;
  edit_->apps.insert(app.spec.name);
  auto at = std::find_if(state_.apps.begin(), state_.apps.end(),
                         [&](const msg::AppRecord& a) { return a.spec.name == app.spec.name; });
  if (at != state_.apps.end())
    *at = app;
  else
    state_.apps.push_back(app);
}

void Registry::put_instance(const msg::InstanceRecord& instance) {
  if (!edit_->instances_before) edit_->instances_before = state_.instances;
  edit_->instances.insert(instance.id);
  auto at = std::find_if(state_.instances.begin(), state_.instances.end(),
                         [&](const msg::InstanceRecord& i) { return i.id == instance.id; });
  if (at != state_.instances.end())
    *at = instance;
  else
    state_.instances.push_back(instance);
}

void Registry::erase_instance(const std::string& id) {
  if (!edit_->instances_before) edit_->instances_before = state_.instances;
  edit_->instances.insert(id);
  std::erase_if(state_.instances, [&](const msg::InstanceRecord& i) { return i.id == id; });
}

void Registry::erase_app(const std::string& name) {
  std::vector<std::string> instances;
  for (const auto& i : state_.instances)
    if (i.app == name) instances.push_back(i.id);
  for (const auto& id : instances) erase_instance(id);
  if (!edit_->apps_before) edit_->apps_before = state_.apps;
  edit_->apps.insert(name);
  std::erase_if(state_.apps, [&](const msg::AppRecord& a) { return a.spec.name == name; });
}

void Registry::set_subnet_index(const std::string& host, int64_t index) {
  if (!edit_->subnet_index_before) edit_->subnet_index_before = subnet_index_;
  subnet_index_[host] = index;
}

const msg::AppRecord* Registry::find_app(const std::string& name) const {
  for (const auto& app : state_.apps)
    if (app.spec.name == name) return &app;
  return nullptr;
}

const msg::HostRecord* Registry::find_host(const std::string& id) const {
  for (const auto& host : state_.hosts)
    if (host.id == id) return &host;
  return nullptr;
}

const msg::InstanceRecord* Registry::find_instance(const std::string& id) const {
  for (const auto& instance : state_.instances)
    if (instance.id == id) return &instance;
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Instances.

bool Registry::on_up_host_or_unplaced(const msg::InstanceRecord& instance) const {
  if (instance.host.empty()) return true;
  const msg::HostRecord* host = find_host(instance.host);
  return host != nullptr && host->status == host_state::kUp;
}

std::vector<msg::InstanceRecord> Registry::counted_instances(const std::string& app) const {
  std::vector<msg::InstanceRecord> out;
  for (const auto& i : state_.instances)
    if (i.app == app && i.state != instance_state::kDraining && on_up_host_or_unplaced(i)) out.push_back(i);
  return out;
}

std::string Registry::create_instance(const std::string& app, int64_t revision, const std::string& reason,
                                      const std::vector<std::string>& failed_hosts) {
  msg::InstanceRecord instance;
  instance.id = states::instance_id(app, next_instance_++);
  instance.app = app;
  instance.state = instance_state::kPending;
  instance.reason = reason;
  instance.failed_hosts = failed_hosts;
  instance.updated_ms = clock_.now_ms();
  instance.revision = revision;
  put_instance(instance);
  return instance.id;
}

void Registry::create_instances(const std::string& app, int count, int64_t revision) {
  for (int i = 0; i < count; ++i) create_instance(app, revision);
}

void Registry::delete_instances(const std::string& app, int count, const std::vector<std::string>& first) {
  const std::vector<msg::InstanceRecord> counted = counted_instances(app);
  std::vector<std::string> chosen;
  const auto take = [&](const std::string& id) {
    if (static_cast<int>(chosen.size()) < count && std::find(chosen.begin(), chosen.end(), id) == chosen.end())
      chosen.push_back(id);
  };
  // The instances the sender named first (pier-metrics: the least busy); ids of other apps are skipped.
  for (const auto& id : first)
    if (std::any_of(counted.begin(), counted.end(), [&](const msg::InstanceRecord& i) { return i.id == id; })) take(id);
  // Then instances of an earlier revision (a rollout replaces them anyway), then instances that serve
  // nobody (not running), then the newest.
  const msg::AppRecord* record = find_app(app);
  const int64_t revision = record == nullptr ? 0 : record->revision;
  std::vector<const msg::InstanceRecord*> rest;
  for (const auto& i : counted) rest.push_back(&i);
  std::stable_sort(rest.begin(), rest.end(), [&](const msg::InstanceRecord* a, const msg::InstanceRecord* b) {
    const auto order = [&](const msg::InstanceRecord* i) {
      return std::tuple(i->revision == revision, i->state == instance_state::kRunning, -states::instance_serial(i->id));
    };
    return order(a) < order(b);
  });
  for (const auto* i : rest) take(i->id);
  for (const auto& id : chosen) retire_instance(id, "scale-in");
}

void Registry::retire_instance(const std::string& id, const std::string& why) {
  const msg::InstanceRecord* found = find_instance(id);
  if (found == nullptr) return;
  // Never placed: nothing runs it, it goes at once.
  if (found->host.empty()) {
    erase_instance(id);
    return;
  }
  // Placed: its agent drains it (out of the LB, connections finish) and stops it; the record goes when
  // the agent no longer reports it.
  msg::InstanceRecord instance = *found;
  instance.state = instance_state::kDraining;
  instance.reason = why + ": draining";
  instance.updated_ms = clock_.now_ms();
  put_instance(instance);
}

bool Registry::move_off_faulty_host(const msg::InstanceRecord& record, const std::string& host,
                                    const std::string& reason) {
  std::vector<std::string> failed = record.failed_hosts;
  if (std::find(failed.begin(), failed.end(), host) == failed.end()) failed.push_back(host);
  const bool elsewhere = std::any_of(state_.hosts.begin(), state_.hosts.end(), [&](const msg::HostRecord& h) {
    return h.status == host_state::kUp && std::find(failed.begin(), failed.end(), h.id) == failed.end();
  });
  if (!elsewhere) return false;
  // A new instance, not the same one placed again: the host's later reports of the old id can never
  // touch it. The old one drains away on its host (it runs nothing).
  const std::string id =
      create_instance(record.app, record.revision,
                      "replaces " + record.id + ": host " + host + " could not start it (" + reason + ")", failed);
  retire_instance(record.id, "host " + host + " could not start it; replaced by " + id);
  spdlog::warn("instance {} of app {}: host {} could not start it ({}); {} replaces it on another host", record.id,
               record.app, host, reason, id);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Levels and rollouts.

bool Registry::step_rollout(const std::string& app) {
  const msg::AppRecord* record = find_app(app);
  if (record == nullptr) return false;
  // Instances on a silent host are neither counted nor retired here: keep_level() replaces them (make
  // before break), and the rollout creates what they no longer count for.
  const RolloutPlan plan = plan_rollout(*record, counted_instances(app), clock_.now_ms());
  if (!plan.changed) return false;
  put_app(plan.app);
  for (const auto& r : plan.retire) retire_instance(r.id, r.why);
  create_instances(app, plan.create, plan.app.revision);
  if (!plan.rolled_back.empty())
    spdlog::warn("app {}: rolling back to revision {}: {}", app, plan.app.rollout.to_revision, plan.rolled_back);
  if (!plan.stuck.empty()) spdlog::error("app {}: rollout stuck: {}", app, plan.stuck);
  if (plan.finished) {
    const msg::Rollout& rollout = plan.app.rollout;
    spdlog::info("app {}: {} to revision {} ({} instances){}", app,
                 rollout.state == states::rollout::kDone ? "rollout done" : "rolled back", plan.app.revision,
                 rollout.ready, rollout.reason.empty() ? "" : ": " + rollout.reason);
  }
  return true;
}

bool Registry::reconcile() {
  bool changed = false;
  std::vector<std::string> apps;
  for (const auto& app : state_.apps) apps.push_back(app.spec.name);
  for (const auto& app : apps) changed = step_rollout(app) || changed;
  for (const auto& app : apps) changed = keep_level(app) || changed;
  changed = retire_empty_suspects() || changed;
  if (edit_) edit_->reconciled = true;
  return changed;
}

bool Registry::keep_level(const std::string& app, const std::vector<std::string>& first) {
  const msg::AppRecord* record = find_app(app);
  if (record == nullptr) return false;
  const int replicas = record->spec.replicas;
  const int64_t revision = record->revision;
  const bool rolling = record->rollout.under_way();
  std::vector<msg::InstanceRecord> own, silent;  // own: unplaced or on an up host; silent: on a suspect host
  for (const auto& i : state_.instances) {
    if (i.app != app || i.state == instance_state::kDraining) continue;
    (on_up_host_or_unplaced(i) ? own : silent).push_back(i);
  }
  bool changed = false;
  const int owned = static_cast<int>(own.size());
  // During a rollout step_rollout() keeps the count (it sees only `own` too).
  if (!rolling) {
    // With no up host to take replacements, the instances on suspect hosts still count: nothing would be
    // gained by pending copies of them.
    const bool a_host_is_up = std::any_of(state_.hosts.begin(), state_.hosts.end(),
                                          [](const msg::HostRecord& h) { return h.status == host_state::kUp; });
    const int missing = replicas - owned - (a_host_is_up ? 0 : static_cast<int>(silent.size()));
    if (missing > 0) {
      create_instances(app, missing, revision);
      if (!silent.empty())
        spdlog::info("app {}: {} of its instances are on suspect hosts: {} replacements created", app, silent.size(),
                     missing);
      changed = true;
    }
    if (owned > replicas) {
      delete_instances(app, owned - replicas, first);
      changed = true;
    }
  }
  // Make before break: an instance on a suspect host goes only once a running one elsewhere stands in
  // for it. With nowhere else to run, nothing is retired.
  const int running = static_cast<int>(std::count_if(
      own.begin(), own.end(), [](const msg::InstanceRecord& i) { return i.state == instance_state::kRunning; }));
  int surplus = std::min(static_cast<int>(silent.size()), static_cast<int>(silent.size()) + running - replicas);
  // Taken from the back: those that were not serving when last heard of first, then the newest.
  std::stable_sort(silent.begin(), silent.end(), [](const msg::InstanceRecord& a, const msg::InstanceRecord& b) {
    return (a.state == instance_state::kRunning) > (b.state == instance_state::kRunning);
  });
  for (auto it = silent.rbegin(); surplus > 0 && it != silent.rend(); ++it, --surplus) {
    retire_instance(it->id, "replaced while host " + it->host + " is silent");
    spdlog::info("instance {} of app {} on suspect host {} retired: a running instance on an up host replaces it",
                 it->id, app, it->host);
    changed = true;
  }
  return changed;
}

bool Registry::retire_empty_suspects() {
  std::vector<std::string> empty;
  for (const auto& h : state_.hosts) {
    if (h.status != host_state::kSuspect) continue;
    const bool runs_something = std::any_of(state_.instances.begin(), state_.instances.end(), [&](const auto& i) {
      return i.host == h.id && i.state != instance_state::kDraining;
    });
    if (!runs_something) empty.push_back(h.id);
  }
  for (const auto& id : empty) {
    msg::HostRecord host = *find_host(id);
    host.status = host_state::kDown;
    put_host(host);
    // Nobody will report these: a host that comes back finds none of them its own and stops them.
    std::vector<std::string> forgotten;
    for (const auto& i : state_.instances)
      if (i.host == id && i.state == instance_state::kDraining) forgotten.push_back(i.id);
    for (const auto& instance : forgotten) erase_instance(instance);
    spdlog::warn("host {} down: nothing it ran is wanted there any more ({} retired instances forgotten)", id,
                 forgotten.size());
  }
  return !empty.empty();
}

Status Registry::check_port_conflicts(const msg::AppSpec& spec) const {
  for (std::size_t i = 0; i < spec.ports.size(); ++i) {
    const int port = spec.ports[i].external;
    for (const auto& other : state_.apps) {
      if (other.spec.name == spec.name) continue;
      for (const auto& mapping : other.spec.ports) {
        if (mapping.external != port) continue;
        const std::string field = "ports[" + std::to_string(i) + "].external";
        if (spec.protocol == "tcp" || other.spec.protocol == "tcp")
          return Status::Invalid(field, "port " + std::to_string(port) + " is already used by app '" + other.spec.name +
                                            "'; a tcp port serves one app only");
        if (other.spec.context_path == spec.context_path)
          return Status::Invalid("context_path", "'" + spec.context_path + "' on port " + std::to_string(port) +
                                                     " is already routed to app '" + other.spec.name + "'");
      }
    }
  }
  return Status::Ok();
}

// With hosts registered, an instance bigger than the biggest of them could never be placed: refuse it at
// deploy, naming the field. With no host yet, the app waits (pending) for one.
Status Registry::check_fits_a_host(const msg::AppSpec& spec) const {
  int max_cpus = 0;
  int64_t max_memory = 0;
  for (const auto& h : state_.hosts) {
    max_cpus = std::max(max_cpus, h.cpus);
    max_memory = std::max(max_memory, h.memory_bytes);
  }
  if (state_.hosts.empty()) return Status::Ok();
  if (spec.cpu > max_cpus)
    return Status::Invalid("cpu", "must be at most " + std::to_string(max_cpus) + ", the most cores any host has");
  if (spec.memory_bytes > max_memory)
    return Status::Invalid("memory",
                           "must be at most " + std::to_string(max_memory >> 20) + "m, the most memory any host has");
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Commands.

template <typename Apply>
msg::Reply Registry::run_command(const std::string& topic, const std::string& request_id, Apply apply) {
  if (request_id.empty()) return error_reply(request_id, Status::Invalid("request_id", "is required on every command"));
  auto seen = store_.applied_reply(request_id);
  if (!seen.ok()) return error_reply(request_id, seen.status());
  if (*seen) return **seen;
  AppliedRequest request{request_id, topic, {}};
  request.reply.request_id = request_id;
  request.reply.ok = true;
  // A refused command changes nothing, and the refusal is not recorded (the same command retried is
  // judged again).
  auto applied = mutate(
      topic.c_str(),
      [&]() -> Result<bool> {
        if (Status s = apply(); !s.ok()) return s;
        return true;
      },
      request);
  if (!applied.ok()) {
    msg::Reply reply = error_reply(request_id, applied.status());
    reply.revision = state_.revision;
    return reply;
  }
  request.reply.revision = state_.revision;
  return request.reply;
}

msg::Reply Registry::deploy(const std::string& request_id, const msg::DeployCommand& command) {
  const msg::AppSpec& spec = command.app;
  return run_command(std::string(topic::kDeploy), request_id, [&]() -> Status {
    if (Status s = validate::app_spec(spec); !s.ok()) return s;
    if (Status s = check_port_conflicts(spec); !s.ok()) return s;
    if (Status s = check_fits_a_host(spec); !s.ok()) return s;
    const msg::AppRecord* existing = find_app(spec.name);
    const int64_t revision = state_.revision + 1;
    if (existing == nullptr) {
      msg::AppRecord app;
      app.spec = spec;
      app.revision = revision;
      put_app(app);
      create_instances(spec.name, spec.replicas, revision);
      spdlog::info("app {} deployed: {}:{} x{} (revision {})", spec.name, spec.image, spec.tag, spec.replicas,
                   revision);
      return Status::Ok();
    }
    msg::AppRecord app = *existing;
    if (same_instances(app.spec, spec)) {
      // The app's revision names what its instances run: a change that reaches no instance (replicas,
      // routing, health checks, autoscaling) leaves it, so agents keep the instances that run.
      app.spec = spec;
      put_app(app);
      step_rollout(spec.name);
      keep_level(spec.name);
      spdlog::info("app {} redeployed, instances kept, {} replicas (revision {})", spec.name, spec.replicas, revision);
      return Status::Ok();
    }
    // What instances run changes: a rolling replacement. It returns, if it fails, to the last revision
    // that completed a rollout (the one a rollout under way started from).
    const int64_t from = app.rollout.state == states::rollout::kRolling ? app.rollout.from_revision : app.revision;
    app.revisions.push_back({app.revision, app.spec});
    app.spec = spec;
    app.revision = revision;
    // Back to a spec instances still run (a redeploy of the previous version): those instances stay.
    for (const auto& earlier : app.revisions)
      if (same_instances(earlier.spec, spec)) app.revision = earlier.revision;
    std::set<int64_t> live;
    for (const auto& i : state_.instances)
      if (i.app == spec.name && i.state != instance_state::kDraining) live.insert(i.revision);
    begin_rollout(app, from, live, clock_.now_ms());
    put_app(app);
    step_rollout(spec.name);
    spdlog::info("app {} spec changed: rolling to revision {} ({} replicas, max surge {}, max unavailable {})",
                 spec.name, app.revision, spec.replicas, spec.max_surge, spec.max_unavailable);
    return Status::Ok();
  });
}

msg::Reply Registry::scale(const std::string& request_id, const msg::ScaleCommand& command) {
  return run_command(std::string(topic::kScale), request_id, [&]() -> Status {
    // A name that is no DNS label is refused as one, rather than echoed back in "no app named ...".
    if (Status s = validate::dns_label("app", command.app); !s.ok()) return s;
    const msg::AppRecord* existing = find_app(command.app);
    if (existing == nullptr) return Status::Invalid("app", "no app named '" + command.app.substr(0, 64) + "'");
    if (Status s = validate::replicas("replicas", command.replicas); !s.ok()) return s;
    if (command.remove_first.size() > static_cast<std::size_t>(validate::kMaxReplicas))
      return Status::Invalid("remove_first", "must list at most " + std::to_string(validate::kMaxReplicas) + " ids");
    for (std::size_t i = 0; i < command.remove_first.size(); ++i)
      if (Status s = validate::dns_label("remove_first[" + std::to_string(i) + "]", command.remove_first[i]); !s.ok())
        return s;
    const int before = existing->spec.replicas;
    // The app's revision stays: it names the instances' spec, which scaling does not change.
    msg::AppRecord app = *existing;
    app.spec.replicas = command.replicas;
    put_app(app);
    // A rollout brings the new revision to the new count; otherwise the level does, retiring the
    // instances the sender named first.
    step_rollout(command.app);
    keep_level(command.app, command.remove_first);
    spdlog::info("app {} scaled {} -> {} (revision {})", command.app, before, command.replicas, state_.revision + 1);
    return Status::Ok();
  });
}

msg::Reply Registry::remove(const std::string& request_id, const msg::RemoveCommand& command) {
  return run_command(std::string(topic::kRemove), request_id, [&]() -> Status {
    if (Status s = validate::dns_label("app", command.app); !s.ok()) return s;
    if (find_app(command.app) == nullptr)
      return Status::Invalid("app", "no app named '" + command.app.substr(0, 64) + "'");
    erase_app(command.app);
    spdlog::info("app {} removed (revision {})", command.app, state_.revision + 1);
    return Status::Ok();
  });
}

Result<std::string> Registry::allocate_ip(const std::string& host_id) const {
  const msg::HostRecord* host = find_host(host_id);
  if (host == nullptr) return Status::Error("unknown host " + host_id);
  auto subnet = net::parse_cidr(host->subnet);
  if (!subnet.ok()) return subnet.status();
  std::set<std::string> used;
  for (const auto& i : state_.instances)
    if (i.host == host_id && !i.ip.empty()) used.insert(i.ip);
  // The subnet's first address is the gateway of a docker host's bridge network: instances start at
  // the second (on exec hosts too, so that both runtimes number alike).
  for (uint64_t n = 2;; ++n) {
    auto address = net::nth_host(*subnet, n);
    if (!address.ok()) return address.status();
    std::string ip = net::format_ipv4(*address);
    if (!used.count(ip)) return ip;
  }
}

msg::Reply Registry::place(const std::string& request_id, const msg::PlaceCommand& command) {
  return run_command(std::string(topic::kPlace), request_id, [&]() -> Status {
    int placed = 0;
    for (const auto& a : command.assignments) {
      const msg::InstanceRecord* found = find_instance(a.instance);
      if (found == nullptr || !found->host.empty()) continue;  // gone, or placed already
      const msg::HostRecord* host = find_host(a.host);
      if (host == nullptr || host->status != host_state::kUp) continue;
      msg::InstanceRecord instance = *found;
      auto ip = allocate_ip(a.host);
      if (!ip.ok()) {
        instance.reason = "host " + a.host + ": " + ip.status().message();
        put_instance(instance);
        continue;
      }
      instance.host = a.host;
      instance.ip = *ip;
      instance.state = instance_state::kPlaced;
      instance.reason.clear();
      instance.updated_ms = clock_.now_ms();
      put_instance(instance);
      spdlog::info("instance {} placed on host {} at {}", a.instance, a.host, *ip);
      ++placed;
    }
    for (const auto& u : command.unplaced) {
      const msg::InstanceRecord* found = find_instance(u.instance);
      if (found == nullptr || !found->host.empty() || found->reason == u.reason) continue;
      msg::InstanceRecord instance = *found;
      instance.reason = u.reason;
      put_instance(instance);
      ++placed;
    }
    if (placed == 0) return Status::Error("nothing to place");
    return Status::Ok();
  });
}

// ---------------------------------------------------------------------------------------------
// Hosts.

Result<bool> Registry::check_hosts() {
  const int64_t now = clock_.steady_ms();
  std::vector<std::pair<std::string, int64_t>> silent;  // host id, ms since last heard
  for (const auto& h : state_.hosts) {
    if (h.status != host_state::kUp) continue;
    auto heard = last_heard_ms_.find(h.id);
    const int64_t since = now - (heard == last_heard_ms_.end() ? started_ms_ : heard->second);
    if (since >= host_down_after_ms_) silent.emplace_back(h.id, since);
  }
  if (silent.empty()) return false;
  return mutate("marking hosts suspect", [&]() -> Result<bool> {
    for (const auto& [id, since] : silent) {
      msg::HostRecord host = *find_host(id);
      host.status = host_state::kSuspect;
      put_host(host);
      const auto kept = std::count_if(state_.instances.begin(), state_.instances.end(), [&](const auto& i) {
        return i.host == id && i.state != instance_state::kDraining;
      });
      spdlog::warn(
          "host {} suspect: no heartbeat for {} ms; its {} instances stay assigned and in the load balancers "
          "while replacements are placed on up hosts",
          id, since, kept);
    }
    return true;
  });
}

Result<bool> Registry::tick(bool judge_hosts) {
  auto hosts = judge_hosts ? check_hosts() : Result<bool>(false);
  if (!hosts.ok()) return hosts;
  // Rollout timeouts, and whatever the level needs that no message brought (a host that came up with room).
  auto settled = mutate("reconciling", [&]() -> Result<bool> { return reconcile(); });
  if (!settled.ok()) return settled;
  const bool forgot = forget_quiet_refusals();
  return *hosts || *settled || forgot;
}

Status Registry::forget_requests_older_than(int64_t age_ms) {
  return store_.forget_requests_before(clock_.now_ms() - age_ms);
}

// Subnet indexes are unique across the pools, so a host keeps its index whatever its runtime. Docker
// hosts get a bridge network's subnet; exec hosts on an overlay a routed one, that other hosts reach
// through it; exec hosts without one (one machine) a loopback one.
// A subnet another host holds is skipped even at a free index: one given from a pool the registry
// was started with before (another --platform-network) may lie inside today's.
Result<std::pair<std::string, int64_t>> Registry::allocate_subnet(const msg::HostStatus& status) const {
  const bool docker = status.runtime == "docker";
  const bool routed = !docker && !status.overlay.mode.empty();
  const net::Ipv4Net& pool = docker ? docker_network_ : routed ? routed_network_ : platform_;
  std::set<int64_t> used;
  for (const auto& [host, index] : subnet_index_) used.insert(index);
  std::vector<net::Ipv4Net> held;
  for (const auto& h : state_.hosts)
    if (auto subnet = net::parse_cidr(h.subnet); subnet.ok()) held.push_back(*subnet);
  const uint64_t count = uint64_t{1} << (host_prefix_ - pool.prefix);
  for (uint64_t index = 0; index < count; ++index) {
    if (used.count(static_cast<int64_t>(index))) continue;
    auto subnet = net::nth_subnet(pool, host_prefix_, index);
    if (!subnet.ok()) return subnet.status();
    if (std::any_of(held.begin(), held.end(), [&](const net::Ipv4Net& h) { return h.overlaps(*subnet); })) continue;
    return std::make_pair(net::format_cidr(*subnet), static_cast<int64_t>(index));
  }
  return Status::Error(
      fmt::format("no subnet left for a new host: {} {} holds {} subnets of /{} and every one is taken (by {} hosts in "
                  "all; indexes are shared by the three pools): start pier-registry with a larger network or a longer "
                  "--host-prefix",
                  docker   ? "--docker-network"
                  : routed ? "--routed-network"
                           : "--platform-network",
                  net::format_cidr(pool), count, host_prefix_, subnet_index_.size()));
}

Result<bool> Registry::heartbeat(const msg::HostStatus& status) {
  if (Status s = validate::dns_label("host_id", status.host_id); !s.ok()) return s;
  if (!status.address.empty() && !net::parse_ipv4(status.address).ok())
    return Status::Invalid("address", "must be an IPv4 address");
  if (status.stats_port != 0)
    if (Status s = validate::port("stats_port", status.stats_port); !s.ok()) return s;
  // It goes into that host's haproxy.cfg (`stats socket`): lbgen would refuse the host's config.
  if (Status s = validate::socket_path("haproxy_socket", status.haproxy_socket); !s.ok()) return s;
  if (Status s = validate::overlay("overlay", status.overlay); !s.ok()) return s;
  if (Status s = validate::lb_status("lb", status.lb); !s.ok()) return s;
  for (std::size_t i = 0; i < status.peers.size(); ++i)
    if (Status s = validate::dns_label("peers[" + std::to_string(i) + "].host", status.peers[i].host); !s.ok())
      return s;
  const msg::HostRecord* known = find_host(status.host_id);
  const bool was_down = known != nullptr && known->status != host_state::kUp;
  auto changed = mutate(
      "heartbeat",
      [&]() -> Result<bool> {
        bool changed = false;
        msg::HostRecord host = known != nullptr ? *known : msg::HostRecord{};
        if (known == nullptr) {
          auto subnet = allocate_subnet(status);
          if (!subnet.ok()) return subnet.status();
          host.id = status.host_id;
          host.subnet = subnet->first;
          set_subnet_index(host.id, subnet->second);
          spdlog::info("host {} registered ({} cpus, {} MiB, runtime {}), subnet {}", status.host_id, status.cpus,
                       status.memory_bytes >> 20, status.runtime, subnet->first);
        }
        if (known == nullptr || known->hostname != status.hostname || known->address != status.address ||
            known->cpus != status.cpus || known->memory_bytes != status.memory_bytes ||
            known->runtime != status.runtime || known->haproxy_socket != status.haproxy_socket ||
            known->stats_port != status.stats_port || known->status != host_state::kUp ||
            !same_encoded(known->overlay, status.overlay)) {
          host.hostname = status.hostname;
          host.address = status.address;
          host.cpus = status.cpus;
          host.memory_bytes = status.memory_bytes;
          host.runtime = status.runtime;
          host.haproxy_socket = status.haproxy_socket;
          host.stats_port = status.stats_port;
          host.status = host_state::kUp;
          host.lb = status.lb;
          host.overlay = status.overlay;
          host.peers = status.peers;
          put_host(host);
          changed = true;
        }
        // Of the host's instances as they were before this heartbeat (the loop below adds and retires).
        std::vector<msg::InstanceRecord> placed_here;
        for (const auto& i : state_.instances)
          if (i.host == status.host_id) placed_here.push_back(i);
        // Instances: copy what the agent reports about the instances the registry placed on it.
        for (const auto& reported : status.instances) {
          for (const auto& record : placed_here) {
            if (record.id != reported.id) continue;
            // Draining is the registry's word: only the agent forgetting the instance ends it (below).
            if (record.state == instance_state::kDraining) continue;
            if (reported.state == instance_state::kFailed && reported.host_fault &&
                move_off_faulty_host(record, status.host_id, reported.reason)) {
              changed = true;
              continue;
            }
            // `draining` is never the agent's to say: a report of it for an instance the registry still
            // wants is stale (an agent that has not seen the newest state) and changes nothing.
            if (reported.state.empty() || reported.state == instance_state::kDraining ||
                (record.state == reported.state && record.pid == reported.pid && record.reason == reported.reason))
              continue;
            msg::InstanceRecord instance = *find_instance(record.id);
            instance.state = reported.state;
            instance.pid = reported.pid;
            instance.reason = reported.reason;
            instance.updated_ms = clock_.now_ms();
            put_instance(instance);
            if (record.state != reported.state)
              spdlog::info("instance {} of app {} on host {}: {} -> {}{}", record.id, record.app, status.host_id,
                           record.state, reported.state, reported.reason.empty() ? "" : " (" + reported.reason + ")");
            changed = true;
          }
        }
        // A draining instance its agent no longer reports has stopped (or never started): it goes.
        for (const auto& record : placed_here) {
          if (record.state != instance_state::kDraining) continue;
          const bool reported = std::any_of(status.instances.begin(), status.instances.end(),
                                            [&](const msg::InstanceStatus& i) { return i.id == record.id; });
          if (reported) continue;
          erase_instance(record.id);
          spdlog::info("instance {} of app {} drained and stopped on host {}", record.id, record.app, status.host_id);
          changed = true;
        }
        // Instances that became healthy, failed or went: rollouts and levels follow (mutate reconciles).
        return changed;
      },
      std::nullopt, /*durable=*/false);
  if (!changed.ok()) return changed;
  if (was_down) spdlog::info("host {} up again (revision {})", status.host_id, state_.revision);
  bool published = *changed;
  for (auto& h : state_.hosts) {
    if (h.id != status.host_id) continue;
    h.last_seen_ms = clock_.now_ms();
    // Soft state: what the host's HAProxy runs and which peers it reaches change with every config and
    // every link, and the agent says them again in every heartbeat. They are published, with no new
    // revision and no write: the host's row takes them with its next real change, and a restarted
    // registry has them again from the next heartbeat. A new round-trip time alone is no change: the
    // rtt_us kept is the one of the last change.
    // Whether its agent renders its own haproxy.cfg (lb.spec) is soft state too: lbgen renders one for it
    // meanwhile after a restart, which the agent ignores once it holds the spec.
    if (!same_encoded(h.lb, status.lb) || !reach::same_reachability(h.peers, status.peers) ||
        h.renders_lb != status.renders_lb) {
      h.lb = status.lb;
      h.peers = status.peers;
      h.renders_lb = status.renders_lb;
      published = true;
    }
  }
  last_heard_ms_[status.host_id] = clock_.steady_ms();
  auto& refused = state_.refused_hosts;
  const auto was_refused =
      std::find_if(refused.begin(), refused.end(), [&](const auto& r) { return r.host_id == status.host_id; });
  if (was_refused == refused.end()) return published;
  spdlog::info("host {} accepted after {} ms refused", status.host_id, clock_.now_ms() - was_refused->since_ms);
  refused.erase(was_refused);
  return true;
}

bool Registry::refuse_host(const std::string& host, const Status& why) {
  const int64_t now = clock_.now_ms();
  auto& refused = state_.refused_hosts;
  auto it = std::find_if(refused.begin(), refused.end(), [&](const auto& r) { return r.host_id == host; });
  if (it != refused.end() && it->field == why.field() && it->reason == why.message()) {
    it->last_ms = now;
    return false;
  }
  if (it == refused.end()) {
    // A bound on what hosts the registry does not know can make it keep (each is told all the same).
    if (refused.size() >= kMaxRefusedHosts) return false;
    it = refused.emplace(refused.end());
    it->host_id = host;
  }
  it->field = why.field();
  it->reason = why.message();
  it->since_ms = now;
  it->last_ms = now;
  spdlog::warn("host {} refused{}: {} (told on {}; pier hosts lists it)", host,
               why.field().empty() ? "" : " (" + why.field() + ")", why.message(), topic::reply_to("agent/" + host));
  return true;
}

bool Registry::forget_quiet_refusals() {
  const int64_t now = clock_.now_ms();
  return std::erase_if(state_.refused_hosts,
                       [&](const msg::RefusedHost& r) { return now - r.last_ms >= host_down_after_ms_; }) > 0;
}

}  // namespace pier::registry
