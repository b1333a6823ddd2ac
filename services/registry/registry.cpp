#include "services/registry/registry.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "common/codec.h"
#include "common/reach.h"
#include "common/topics.h"
#include "common/validate.h"

namespace pier::registry {
namespace {

msg::Reply error_reply(const std::string& request_id, const Status& status) {
  msg::Reply reply;
  reply.request_id = request_id;
  reply.ok = false;
  reply.field = status.field();
  reply.rule = status.rule();
  reply.message = status.message();
  return reply;
}

template <typename T>
T decode_column(const SQLite::Column& column) {
  if (column.isNull()) return T{};
  const std::string bytes(static_cast<const char*>(column.getBlob()), static_cast<std::size_t>(column.getBytes()));
  auto decoded = codec::decode<T>(bytes);
  return decoded.ok() ? *decoded : T{};
}

// apps.revisions holds a map (codec::decode reads maps only): {"revisions": [AppRevision...]}.
struct StoredRevisions {
  std::vector<msg::AppRevision> revisions;
  MSGPACK_DEFINE_MAP(revisions);
};

struct StoredPeers {
  std::vector<msg::PeerReach> peers;
  MSGPACK_DEFINE_MAP(peers);
};

void bind_blob(SQLite::Statement& statement, int index, const std::string& bytes) {
  statement.bind(index, bytes.data(), static_cast<int>(bytes.size()));
}

// Whether instances started from `a` can go on serving `b`: what reaches an instance (its image, argv,
// environment, internal ports, limits) is the same. Replicas, external ports, routing, health checks and
// the autoscale policy are the load balancer's and pier-metrics' business and change no instance.
bool same_instances(const msg::AppSpec& a, const msg::AppSpec& b) {
  // What an instance listens on: the first internal port (its PORT) and the set of them. Another
  // external port onto the same internal one changes only the load balancer.
  const auto internal_ports = [](const msg::AppSpec& s) {
    std::set<int> all;
    for (const auto& p : s.ports) all.insert(p.internal);
    return std::pair{s.ports.empty() ? 0 : s.ports[0].internal, all};
  };
  return a.image == b.image && a.tag == b.tag && a.command == b.command && a.env == b.env && a.cpu == b.cpu &&
         a.memory_bytes == b.memory_bytes && internal_ports(a) == internal_ports(b);
}

// Two records of the wire alike, field for field (their encodings are equal).
template <typename T>
bool same_encoded(const T& a, const T& b) {
  return codec::encode(a) == codec::encode(b);
}

// An instance that is unplaced or on an up host (of `instances`, unaliased): the ones an app counts as its
// own. Those on a suspect host are still assigned and still serve, but may never be heard of again.
constexpr const char* kNotOnSilentHost = "(host = '' OR host IN (SELECT id FROM hosts WHERE status = 'up'))";

}  // namespace

Registry::Registry(SQLite::Database& db, const Clock& clock, const Config& config)
    : db_(db),
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
  load();
}

void Registry::load() {
  msg::State state;
  state.revision = db_.execAndGet("SELECT value FROM meta WHERE key='revision'").getInt64();
  SQLite::Statement hosts(db_,
                          "SELECT id, hostname, address, cpus, memory_bytes, runtime, subnet, haproxy_socket, "
                          "stats_port, status, lb, overlay, peers FROM hosts ORDER BY id");
  while (hosts.executeStep()) {
    msg::HostRecord h;
    h.id = hosts.getColumn(0).getString();
    h.hostname = hosts.getColumn(1).getString();
    h.address = hosts.getColumn(2).getString();
    h.cpus = hosts.getColumn(3).getInt();
    h.memory_bytes = hosts.getColumn(4).getInt64();
    h.runtime = hosts.getColumn(5).getString();
    h.subnet = hosts.getColumn(6).getString();
    h.haproxy_socket = hosts.getColumn(7).getString();
    h.stats_port = hosts.getColumn(8).getInt();
    h.status = hosts.getColumn(9).getString();
    h.lb = decode_column<msg::LbStatus>(hosts.getColumn(10));
    h.overlay = decode_column<msg::OverlayInfo>(hosts.getColumn(11));
    h.peers = decode_column<StoredPeers>(hosts.getColumn(12)).peers;
    // last_seen is kept in memory only: it changes every heartbeat and is not a state change.
    for (const auto& old : state_.hosts)
      if (old.id == h.id) h.last_seen_ms = old.last_seen_ms;
    state.hosts.push_back(std::move(h));
  }
  SQLite::Statement apps(db_, "SELECT spec, revision, revisions, rollout FROM apps ORDER BY created_ms, name");
  while (apps.executeStep()) {
    msg::AppRecord a;
    a.spec = decode_column<msg::AppSpec>(apps.getColumn(0));
    a.revision = apps.getColumn(1).getInt64();
    a.revisions = decode_column<StoredRevisions>(apps.getColumn(2)).revisions;
    a.rollout = decode_column<msg::Rollout>(apps.getColumn(3));
    state.apps.push_back(std::move(a));
  }
  SQLite::Statement instances(
      db_,
      "SELECT id, app, host, ip, state, reason, pid, updated_ms, failed_hosts, revision FROM instances "
      "ORDER BY seq");
  while (instances.executeStep()) {
    msg::InstanceRecord i;
    i.id = instances.getColumn(0).getString();
    i.app = instances.getColumn(1).getString();
    i.host = instances.getColumn(2).getString();
    i.ip = instances.getColumn(3).getString();
    i.state = instances.getColumn(4).getString();
    i.reason = instances.getColumn(5).getString();
    i.pid = instances.getColumn(6).getInt();
    i.updated_ms = instances.getColumn(7).getInt64();
    std::istringstream failed(instances.getColumn(8).getString());
    for (std::string host; std::getline(failed, host, ',');)
      if (!host.empty()) i.failed_hosts.push_back(host);
    i.revision = instances.getColumn(9).getInt64();
    state.instances.push_back(std::move(i));
  }
  state_ = std::move(state);
}

void Registry::bump_revision() { db_.exec("UPDATE meta SET value = value + 1 WHERE key='revision'"); }

int64_t Registry::next_instance_seq() {
  const int64_t seq = db_.execAndGet("SELECT value FROM meta WHERE key='next_instance'").getInt64();
  db_.exec("UPDATE meta SET value = value + 1 WHERE key='next_instance'");
  return seq;
}

const msg::AppRecord* Registry::find_app(const std::string& name) const {
  for (const auto& app : state_.apps)
    if (app.spec.name == name) return &app;
  return nullptr;
}

std::string Registry::create_instance(const std::string& app, int64_t revision, const std::string& reason,
                                      const std::string& failed_hosts) {
  const int64_t seq = next_instance_seq();
  std::string id = app + "-" + std::to_string(seq);
  SQLite::Statement insert(db_,
                           "INSERT INTO instances(id, app, seq, state, reason, failed_hosts, updated_ms, revision) "
                           "VALUES (?, ?, ?, 'pending', ?, ?, ?, ?)");
  insert.bind(1, id);
  insert.bind(2, app);
  insert.bind(3, seq);
  insert.bind(4, reason);
  insert.bind(5, failed_hosts);
  insert.bind(6, clock_.now_ms());
  insert.bind(7, revision);
  insert.exec();
  return id;
}

void Registry::create_instances(const std::string& app, int count, int64_t revision) {
  for (int i = 0; i < count; ++i) create_instance(app, revision);
}

void Registry::delete_instances(const std::string& app, int count, const std::vector<std::string>& first) {
  std::vector<std::string> chosen;
  // The instances the sender named first (pier-metrics: the least busy); ids of other apps are skipped.
  for (const auto& id : first) {
    if (static_cast<int>(chosen.size()) >= count) break;
    SQLite::Statement named(db_, "SELECT id FROM instances WHERE id = ? AND app = ? AND state != 'draining' AND " +
                                     std::string(kNotOnSilentHost));
    named.bind(1, id);
    named.bind(2, app);
    if (named.executeStep() && std::find(chosen.begin(), chosen.end(), id) == chosen.end()) chosen.push_back(id);
  }
  // Then instances of an earlier revision (a rollout replaces them anyway), then instances that serve
  // nobody (not running), then the newest.
  SQLite::Statement rest(db_,
                         "SELECT i.id FROM instances i JOIN apps a ON a.name = i.app "
                         "WHERE i.app = ? AND i.state != 'draining' AND " +
                             std::string(kNotOnSilentHost) +
                             " ORDER BY (i.revision = a.revision), (i.state = 'running'), i.seq DESC");
  rest.bind(1, app);
  while (static_cast<int>(chosen.size()) < count && rest.executeStep()) {
    std::string id = rest.getColumn(0).getString();
    if (std::find(chosen.begin(), chosen.end(), id) == chosen.end()) chosen.push_back(std::move(id));
  }
  for (const auto& id : chosen) retire_instance(id, "scale-in");
}

void Registry::retire_instance(const std::string& id, const std::string& why) {
  // Never placed: nothing runs it, it goes at once.
  SQLite::Statement unplaced(db_, "DELETE FROM instances WHERE id = ? AND host = ''");
  unplaced.bind(1, id);
  if (unplaced.exec() > 0) return;
  // Placed: its agent drains it (out of the LB, connections finish) and stops it; the row goes when the
  // agent no longer reports it.
  SQLite::Statement drain(db_, "UPDATE instances SET state = 'draining', reason = ?, updated_ms = ? WHERE id = ?");
  drain.bind(1, why + ": draining");
  drain.bind(2, clock_.now_ms());
  drain.bind(3, id);
  drain.exec();
}

Registry::AppRow Registry::read_app(const std::string& name) {
  SQLite::Statement select(db_, "SELECT spec, revision, revisions, rollout FROM apps WHERE name = ?");
  select.bind(1, name);
  AppRow row;
  if (!select.executeStep()) return row;
  row.spec = decode_column<msg::AppSpec>(select.getColumn(0));
  row.revision = select.getColumn(1).getInt64();
  row.revisions = decode_column<StoredRevisions>(select.getColumn(2)).revisions;
  row.rollout = decode_column<msg::Rollout>(select.getColumn(3));
  return row;
}

void Registry::write_app(const std::string& name, const AppRow& app) {
  SQLite::Statement update(db_, "UPDATE apps SET spec = ?, revision = ?, revisions = ?, rollout = ? WHERE name = ?");
  bind_blob(update, 1, codec::encode(app.spec));
  update.bind(2, app.revision);
  bind_blob(update, 3, codec::encode(StoredRevisions{app.revisions}));
  bind_blob(update, 4, codec::encode(app.rollout));
  update.bind(5, name);
  update.exec();
}

void Registry::start_rollout(AppRow& row, int64_t from_revision) {
  // Specs no live instance runs any more are forgotten, except the one a rollback would return to.
  std::set<int64_t> used{from_revision};
  SQLite::Statement live(db_, "SELECT DISTINCT revision FROM instances WHERE app = ? AND state != 'draining'");
  live.bind(1, row.spec.name);
  while (live.executeStep()) used.insert(live.getColumn(0).getInt64());
  std::erase_if(row.revisions,
                [&](const msg::AppRevision& r) { return !used.count(r.revision) || r.revision == row.revision; });
  const int64_t now = clock_.now_ms();
  row.rollout = msg::Rollout{};
  row.rollout.state = "rolling";
  row.rollout.from_revision = from_revision;
  row.rollout.to_revision = row.revision;
  row.rollout.started_ms = now;
  row.rollout.progress_ms = now;
}

bool Registry::step_rollout(const std::string& app) {
  AppRow row = read_app(app);
  msg::Rollout& rollout = row.rollout;
  if (!rollout.under_way()) return false;
  struct Live {
    std::string id, state, reason;
    bool current = false;
  };
  std::vector<Live> fresh, old;  // fresh: of row.revision, oldest first; old: of any other revision
  // Instances on a silent host are neither counted nor retired here: keep_level() replaces them (make
  // before break), and the rollout creates what they no longer count for.
  SQLite::Statement select(db_,
                           "SELECT id, state, reason, revision FROM instances WHERE app = ? AND state != 'draining' "
                           "AND " +
                               std::string(kNotOnSilentHost) + " ORDER BY seq");
  select.bind(1, app);
  while (select.executeStep()) {
    Live i{select.getColumn(0).getString(), select.getColumn(1).getString(), select.getColumn(2).getString()};
    (select.getColumn(3).getInt64() == row.revision ? fresh : old).push_back(std::move(i));
  }
  // Healthy: the agent reports `running` only once the app's health check passes.
  const auto healthy = [](const Live& i) { return i.state == "running"; };
  const int64_t now = clock_.now_ms();
  const int desired = row.spec.replicas;
  bool changed = false;
  const int fresh_ready = static_cast<int>(std::count_if(fresh.begin(), fresh.end(), healthy));
  if (fresh_ready > rollout.ready) {
    rollout.progress_ms = now;
    changed = true;
  }
  rollout.ready = fresh_ready;

  std::string failure;
  for (const auto& i : fresh)
    if (i.state == "failed" && failure.empty()) failure = "instance " + i.id + " failed: " + i.reason;
  if (failure.empty() && now - rollout.progress_ms >= row.spec.rollout_timeout_ms) {
    for (const auto& i : fresh) {
      if (healthy(i)) continue;
      failure = "instance " + i.id + " not healthy within " + std::to_string(row.spec.rollout_timeout_ms / 1000) +
                " s (" + i.state + (i.reason.empty() ? "" : ": " + i.reason) + ")";
      break;
    }
  }
  if (!failure.empty()) {
    const auto back = std::find_if(row.revisions.begin(), row.revisions.end(),
                                   [&](const msg::AppRevision& r) { return r.revision == rollout.from_revision; });
    if (rollout.state == "rolling_back" || back == row.revisions.end()) {
      rollout.reason = (rollout.state == "rolling_back"
                            ? "rollback to revision " + std::to_string(row.revision) + " did not complete: "
                            : "") +
                       failure + (rollout.reason.empty() ? "" : "; " + rollout.reason);
      rollout.state = "stuck";
      spdlog::error("app {}: rollout stuck: {}", app, rollout.reason);
      write_app(app, row);
      return true;
    }
    // Back to the spec it started from, keeping today's replicas (scaling is not part of a revision).
    msg::AppRevision failed{row.revision, row.spec};
    row.spec = back->spec;
    row.spec.replicas = failed.spec.replicas;
    row.revision = back->revision;
    row.revisions.erase(back);
    row.revisions.push_back(std::move(failed));
    rollout.state = "rolling_back";
    rollout.reason = "revision " + std::to_string(rollout.to_revision) + ": " + failure;
    rollout.from_revision = rollout.to_revision;
    rollout.to_revision = row.revision;
    rollout.progress_ms = now;
    rollout.ready = 0;
    spdlog::warn("app {}: rolling back to revision {}: {}", app, row.revision, rollout.reason);
    write_app(app, row);
    step_rollout(app);
    return true;
  }

  const std::string why = "replaced by revision " + std::to_string(row.revision);
  // Old instances that serve nobody go first: retiring them costs no capacity.
  std::vector<Live> old_ready;
  for (auto& i : old) {
    if (healthy(i)) {
      old_ready.push_back(i);
      continue;
    }
    retire_instance(i.id, why);
    changed = true;
  }
  // Then healthy old ones, oldest first, while the healthy ones left stay at least replicas - max_unavailable.
  const int min_available = std::max(0, desired - row.spec.max_unavailable);
  int available = static_cast<int>(old_ready.size()) + fresh_ready;
  std::size_t retired = 0;
  while (retired < old_ready.size() && available - 1 >= min_available) {
    retire_instance(old_ready[retired++].id, why);
    --available;
    changed = true;
  }
  const int old_left = static_cast<int>(old_ready.size() - retired);
  // More new instances, within replicas + max_surge in all.
  const int fresh_count = static_cast<int>(fresh.size());
  const int add = std::min(desired - fresh_count, desired + row.spec.max_surge - old_left - fresh_count);
  if (add > 0) {
    create_instances(app, add, row.revision);
    rollout.progress_ms = now;  // the new ones' time to become healthy starts now
    changed = true;
  }
  if (fresh_count > desired) {  // scaled in during the rollout: unhealthy ones first, then the newest
    std::stable_partition(fresh.begin(), fresh.end(), healthy);
    for (int i = 0; i < fresh_count - desired; ++i) retire_instance(fresh[fresh.size() - 1 - i].id, "scale-in");
    changed = true;
  }
  if (old_left == 0 && fresh_ready >= desired) {
    rollout.state = rollout.state == "rolling" ? "done" : "rolled_back";
    row.revisions.clear();
    spdlog::info("app {}: {} to revision {} ({} instances){}", app,
                 rollout.state == "done" ? "rollout done" : "rolled back", row.revision, fresh_ready,
                 rollout.reason.empty() ? "" : ": " + rollout.reason);
    changed = true;
  }
  if (changed) write_app(app, row);
  return changed;
}

bool Registry::step_rollouts() {
  // Rollouts change only in committed commands and ticks, each followed by load(): state_ knows which
  // are under way without reading every app back (this runs on every heartbeat that changed something).
  bool changed = false;
  for (const auto& app : state_.apps)
    if (app.rollout.under_way()) changed = step_rollout(app.spec.name) || changed;
  return changed;
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

template <typename Apply>
msg::Reply Registry::run_command(const std::string& topic, const std::string& request_id, Apply apply) {
  if (request_id.empty()) return error_reply(request_id, Status::Invalid("request_id", "is required on every command"));
  try {
    SQLite::Statement seen(db_, "SELECT reply FROM applied_requests WHERE request_id = ?");
    seen.bind(1, request_id);
    if (seen.executeStep()) return decode_column<msg::Reply>(seen.getColumn(0));
    SQLite::Transaction tx(db_);
    const Status status = apply();
    // A refused command changes nothing: the transaction rolls back when it goes out of scope, and
    // the refusal is not recorded (the same command retried is judged again).
    if (!status.ok()) {
      msg::Reply reply = error_reply(request_id, status);
      reply.revision = state_.revision;
      return reply;
    }
    reconcile();
    bump_revision();
    msg::Reply reply;
    reply.request_id = request_id;
    reply.ok = true;
    reply.revision = db_.execAndGet("SELECT value FROM meta WHERE key='revision'").getInt64();
    SQLite::Statement record(db_,
                             "INSERT INTO applied_requests(request_id, topic, reply, time_ms) VALUES (?, ?, ?, ?)");
    record.bind(1, request_id);
    record.bind(2, topic);
    bind_blob(record, 3, codec::encode(reply));
    record.bind(4, clock_.now_ms());
    record.exec();
    tx.commit();
    load();
    return reply;
  } catch (const SQLite::Exception& e) {
    spdlog::error("command {} ({}) failed in the database: {}", topic, request_id, e.what());
    load();
    return error_reply(request_id, Status::Error(std::string("registry database error: ") + e.what()));
  }
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
      SQLite::Statement insert(db_, "INSERT INTO apps(name, spec, revision, created_ms) VALUES (?, ?, ?, ?)");
      insert.bind(1, spec.name);
      bind_blob(insert, 2, codec::encode(spec));
      insert.bind(3, revision);
      insert.bind(4, clock_.now_ms());
      insert.exec();
      create_instances(spec.name, spec.replicas, revision);
      spdlog::info("app {} deployed: {}:{} x{} (revision {})", spec.name, spec.image, spec.tag, spec.replicas,
                   revision);
      return Status::Ok();
    }
    AppRow row = read_app(spec.name);
    const msg::Rollout& current = row.rollout;
    const bool rolling = current.under_way();
    if (same_instances(existing->spec, spec)) {
      // The app's revision names what its instances run: a change that reaches no instance (replicas,
      // routing, health checks, autoscaling) leaves it, so agents keep the instances that run.
      row.spec = spec;
      write_app(spec.name, row);
      if (rolling) step_rollout(spec.name);
      keep_level(spec.name);
      spdlog::info("app {} redeployed, instances kept, {} replicas (revision {})", spec.name, spec.replicas, revision);
      return Status::Ok();
    }
    // What instances run changes: a rolling replacement. It returns, if it fails, to the last revision
    // that completed a rollout (the one a rollout under way started from).
    const int64_t from = current.state == "rolling" ? current.from_revision : row.revision;
    row.revisions.push_back({row.revision, row.spec});
    row.spec = spec;
    row.revision = revision;
    // Back to a spec instances still run (a redeploy of the previous version): those instances stay.
    for (const auto& earlier : row.revisions)
      if (same_instances(earlier.spec, spec)) row.revision = earlier.revision;
    start_rollout(row, from);
    write_app(spec.name, row);
    step_rollout(spec.name);
    spdlog::info("app {} spec changed: rolling to revision {} ({} replicas, max surge {}, max unavailable {})",
                 spec.name, row.revision, spec.replicas, spec.max_surge, spec.max_unavailable);
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
    AppRow row = read_app(command.app);
    row.spec.replicas = command.replicas;
    write_app(command.app, row);
    // A rollout brings the new revision to the new count; otherwise the level does, retiring the
    // instances the sender named first.
    if (row.rollout.under_way()) step_rollout(command.app);
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
    SQLite::Statement drop(db_, "DELETE FROM apps WHERE name = ?");
    drop.bind(1, command.app);
    drop.exec();  // instances go with it (ON DELETE CASCADE)
    spdlog::info("app {} removed (revision {})", command.app, state_.revision + 1);
    return Status::Ok();
  });
}

Result<std::string> Registry::allocate_ip(const std::string& host_id) {
  const msg::HostRecord* host = nullptr;
  for (const auto& h : state_.hosts)
    if (h.id == host_id) host = &h;
  if (host == nullptr) return Status::Error("unknown host " + host_id);
  auto subnet = net::parse_cidr(host->subnet);
  if (!subnet.ok()) return subnet.status();
  std::set<std::string> used;
  SQLite::Statement taken(db_, "SELECT ip FROM instances WHERE host = ? AND ip != ''");
  taken.bind(1, host_id);
  while (taken.executeStep()) used.insert(taken.getColumn(0).getString());
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
      SQLite::Statement find(db_, "SELECT host FROM instances WHERE id = ?");
      find.bind(1, a.instance);
      if (!find.executeStep() || !find.getColumn(0).getString().empty()) continue;  // gone, or placed already
      bool host_up = false;
      for (const auto& h : state_.hosts) host_up = host_up || (h.id == a.host && h.status == "up");
      if (!host_up) continue;
      auto ip = allocate_ip(a.host);
      if (!ip.ok()) {
        SQLite::Statement why(db_, "UPDATE instances SET reason = ? WHERE id = ?");
        why.bind(1, "host " + a.host + ": " + ip.status().message());
        why.bind(2, a.instance);
        why.exec();
        continue;
      }
      SQLite::Statement update(
          db_, "UPDATE instances SET host = ?, ip = ?, state = 'placed', reason = '', updated_ms = ? WHERE id = ?");
      update.bind(1, a.host);
      update.bind(2, *ip);
      update.bind(3, clock_.now_ms());
      update.bind(4, a.instance);
      update.exec();
      spdlog::info("instance {} placed on host {} at {}", a.instance, a.host, *ip);
      ++placed;
    }
    for (const auto& u : command.unplaced) {
      SQLite::Statement why(db_, "UPDATE instances SET reason = ? WHERE id = ? AND host = '' AND reason != ?");
      why.bind(1, u.reason);
      why.bind(2, u.instance);
      why.bind(3, u.reason);
      placed += why.exec();
    }
    if (placed == 0) return Status::Error("nothing to place");
    return Status::Ok();
  });
}

Result<bool> Registry::check_hosts() {
  const int64_t now = clock_.steady_ms();
  std::vector<std::pair<std::string, int64_t>> silent;  // host id, ms since last heard
  for (const auto& h : state_.hosts) {
    if (h.status != "up") continue;
    auto heard = last_heard_ms_.find(h.id);
    const int64_t since = now - (heard == last_heard_ms_.end() ? started_ms_ : heard->second);
    if (since >= host_down_after_ms_) silent.emplace_back(h.id, since);
  }
  if (silent.empty()) return false;
  return mutate("marking hosts suspect", [&] {
    for (const auto& [id, since] : silent) {
      SQLite::Statement suspect(db_, "UPDATE hosts SET status = 'suspect' WHERE id = ?");
      suspect.bind(1, id);
      suspect.exec();
      SQLite::Statement kept(db_, "SELECT COUNT(*) FROM instances WHERE host = ? AND state != 'draining'");
      kept.bind(1, id);
      kept.executeStep();
      spdlog::warn(
          "host {} suspect: no heartbeat for {} ms; its {} instances stay assigned and in the load balancers "
          "while replacements are placed on up hosts",
          id, since, kept.getColumn(0).getInt());
    }
    reconcile();
    return true;
  });
}

Result<bool> Registry::tick(bool judge_hosts) {
  auto hosts = judge_hosts ? check_hosts() : Result<bool>(false);
  if (!hosts.ok()) return hosts;
  // Rollout timeouts, and whatever the level needs that no message brought (a host that came up with room).
  auto settled = mutate("reconciling", [&] { return reconcile(); });
  if (!settled.ok()) return settled;
  return *hosts || *settled;
}

template <typename Change>
Result<bool> Registry::mutate(const char* what, Change change) {
  try {
    SQLite::Transaction tx(db_);
    if (!change()) return false;  // rolls back: nothing to publish
    bump_revision();
    tx.commit();
    load();
    return true;
  } catch (const SQLite::Exception& e) {
    spdlog::error("{} failed in the database: {}", what, e.what());
    load();
    return Status::Error(std::string("registry database error: ") + e.what());
  }
}

bool Registry::reconcile() {
  bool changed = step_rollouts();
  std::vector<std::string> apps;
  SQLite::Statement names(db_, "SELECT name FROM apps ORDER BY created_ms, name");
  while (names.executeStep()) apps.push_back(names.getColumn(0).getString());
  for (const auto& app : apps) changed = keep_level(app) || changed;
  return retire_empty_suspects() || changed;
}

bool Registry::keep_level(const std::string& app, const std::vector<std::string>& first) {
  const AppRow row = read_app(app);
  const int replicas = row.spec.replicas;
  struct Counted {
    std::string id, host, state;
  };
  std::vector<Counted> own, silent;  // own: unplaced or on an up host; silent: on a suspect host
  SQLite::Statement select(db_,
                           "SELECT i.id, i.host, i.state, COALESCE(h.status, '') FROM instances i "
                           "LEFT JOIN hosts h ON h.id = i.host WHERE i.app = ? AND i.state != 'draining' "
                           "ORDER BY i.seq");
  select.bind(1, app);
  while (select.executeStep()) {
    Counted c{select.getColumn(0).getString(), select.getColumn(1).getString(), select.getColumn(2).getString()};
    const std::string status = select.getColumn(3).getString();
    (c.host.empty() || status == "up" ? own : silent).push_back(std::move(c));
  }
  bool changed = false;
  const int owned = static_cast<int>(own.size());
  // During a rollout step_rollout() keeps the count (it sees only `own` too).
  if (!row.rollout.under_way()) {
    // With no up host to take replacements, the instances on suspect hosts still count: nothing would be
    // gained by pending copies of them.
    const bool a_host_is_up = db_.execAndGet("SELECT COUNT(*) FROM hosts WHERE status = 'up'").getInt() > 0;
    const int missing = replicas - owned - (a_host_is_up ? 0 : static_cast<int>(silent.size()));
    if (missing > 0) {
      create_instances(app, missing, row.revision);
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
  const int running =
      static_cast<int>(std::count_if(own.begin(), own.end(), [](const Counted& c) { return c.state == "running"; }));
  int surplus = std::min(static_cast<int>(silent.size()), static_cast<int>(silent.size()) + running - replicas);
  // Taken from the back: those that were not serving when last heard of first, then the newest.
  std::stable_sort(silent.begin(), silent.end(),
                   [](const Counted& a, const Counted& b) { return (a.state == "running") > (b.state == "running"); });
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
  SQLite::Statement select(db_,
                           "SELECT id FROM hosts h WHERE status = 'suspect' AND NOT EXISTS "
                           "(SELECT 1 FROM instances i WHERE i.host = h.id AND i.state != 'draining')");
  while (select.executeStep()) empty.push_back(select.getColumn(0).getString());
  for (const auto& id : empty) {
    SQLite::Statement down(db_, "UPDATE hosts SET status = 'down' WHERE id = ?");
    down.bind(1, id);
    down.exec();
    // Nobody will report these: a host that comes back finds none of them its own and stops them.
    SQLite::Statement forget(db_, "DELETE FROM instances WHERE host = ? AND state = 'draining'");
    forget.bind(1, id);
    const int forgotten = forget.exec();
    spdlog::warn("host {} down: nothing it ran is wanted there any more ({} retired instances forgotten)", id,
                 forgotten);
  }
  return !empty.empty();
}

void Registry::forget_requests_older_than(int64_t age_ms) {
  SQLite::Statement forget(db_, "DELETE FROM applied_requests WHERE time_ms < ?");
  forget.bind(1, clock_.now_ms() - age_ms);
  forget.exec();
}

// Subnet indexes are unique across the pools, so a host keeps its index whatever its runtime. Docker
// hosts get a bridge network's subnet; exec hosts on an overlay a routed one, that other hosts reach
// through it; exec hosts without one (one machine) a loopback one.
Result<std::pair<std::string, int64_t>> Registry::allocate_subnet(const msg::HostStatus& status) {
  const net::Ipv4Net& pool = status.runtime == "docker"     ? docker_network_
                             : !status.overlay.mode.empty() ? routed_network_
                                                            : platform_;
  std::set<int64_t> used;
  SQLite::Statement taken(db_, "SELECT subnet_index FROM hosts");
  while (taken.executeStep()) used.insert(taken.getColumn(0).getInt64());
  for (int64_t index = 0;; ++index) {
    if (used.count(index)) continue;
    auto subnet = net::nth_subnet(pool, host_prefix_, static_cast<uint64_t>(index));
    if (!subnet.ok()) return subnet.status();
    return std::make_pair(net::format_cidr(*subnet), index);
  }
}

bool Registry::move_off_faulty_host(const msg::InstanceRecord& record, const std::string& host,
                                    const std::string& reason) {
  std::vector<std::string> failed = record.failed_hosts;
  if (std::find(failed.begin(), failed.end(), host) == failed.end()) failed.push_back(host);
  const bool elsewhere = std::any_of(state_.hosts.begin(), state_.hosts.end(), [&](const msg::HostRecord& h) {
    return h.status == "up" && std::find(failed.begin(), failed.end(), h.id) == failed.end();
  });
  if (!elsewhere) return false;
  std::string joined;
  for (const auto& h : failed) joined += (joined.empty() ? "" : ",") + h;
  // A new instance, not the same one placed again: the host's later reports of the old id can never
  // touch it. The old one drains away on its host (it runs nothing).
  const std::string id =
      create_instance(record.app, record.revision,
                      "replaces " + record.id + ": host " + host + " could not start it (" + reason + ")", joined);
  retire_instance(record.id, "host " + host + " could not start it; replaced by " + id);
  spdlog::warn("instance {} of app {}: host {} could not start it ({}); {} replaces it on another host", record.id,
               record.app, host, reason, id);
  return true;
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
  for (std::size_t i = 0; i < status.peers.size(); ++i)
    if (Status s = validate::dns_label("peers[" + std::to_string(i) + "].host", status.peers[i].host); !s.ok())
      return s;
  try {
    const msg::HostRecord* known = nullptr;
    for (const auto& h : state_.hosts)
      if (h.id == status.host_id) known = &h;
    const bool was_down = known != nullptr && known->status != "up";
    SQLite::Transaction tx(db_);
    bool changed = false;
    if (known == nullptr) {
      auto subnet = allocate_subnet(status);
      if (!subnet.ok()) return subnet.status();
      SQLite::Statement insert(
          db_,
          "INSERT INTO hosts(id, hostname, address, cpus, memory_bytes, runtime, subnet, subnet_index, "
          "haproxy_socket, stats_port, status, lb, registered_ms, overlay, peers) "
          "VALUES (?,?,?,?,?,?,?,?,?,?,'up',?,?,?,?)");
      insert.bind(1, status.host_id);
      insert.bind(2, status.hostname);
      insert.bind(3, status.address);
      insert.bind(4, status.cpus);
      insert.bind(5, status.memory_bytes);
      insert.bind(6, status.runtime);
      insert.bind(7, subnet->first);
      insert.bind(8, subnet->second);
      insert.bind(9, status.haproxy_socket);
      insert.bind(10, status.stats_port);
      bind_blob(insert, 11, codec::encode(status.lb));
      insert.bind(12, clock_.now_ms());
      bind_blob(insert, 13, codec::encode(status.overlay));
      bind_blob(insert, 14, codec::encode(StoredPeers{status.peers}));
      insert.exec();
      spdlog::info("host {} registered ({} cpus, {} MiB, runtime {}), subnet {}", status.host_id, status.cpus,
                   status.memory_bytes >> 20, status.runtime, subnet->first);
      changed = true;
    } else if (known->hostname != status.hostname || known->address != status.address || known->cpus != status.cpus ||
               known->memory_bytes != status.memory_bytes || known->runtime != status.runtime ||
               known->haproxy_socket != status.haproxy_socket || known->stats_port != status.stats_port ||
               known->status != "up" || !same_encoded(known->lb, status.lb) ||
               !same_encoded(known->overlay, status.overlay) ||
               // a new round-trip time alone is no change: the stored rtt_us is the one of the last change
               !reach::same_reachability(known->peers, status.peers)) {
      SQLite::Statement update(
          db_,
          "UPDATE hosts SET hostname=?, address=?, cpus=?, memory_bytes=?, runtime=?, haproxy_socket=?, "
          "stats_port=?, status='up', lb=?, overlay=?, peers=? WHERE id=?");
      update.bind(1, status.hostname);
      update.bind(2, status.address);
      update.bind(3, status.cpus);
      update.bind(4, status.memory_bytes);
      update.bind(5, status.runtime);
      update.bind(6, status.haproxy_socket);
      update.bind(7, status.stats_port);
      bind_blob(update, 8, codec::encode(status.lb));
      bind_blob(update, 9, codec::encode(status.overlay));
      bind_blob(update, 10, codec::encode(StoredPeers{status.peers}));
      update.bind(11, status.host_id);
      update.exec();
      changed = true;
    }
    // Instances: copy what the agent reports about the instances the registry placed on it.
    for (const auto& reported : status.instances) {
      for (const auto& record : state_.instances) {
        if (record.id != reported.id || record.host != status.host_id) continue;
        // Draining is the registry's word: only the agent forgetting the instance ends it (below).
        if (record.state == "draining") continue;
        if (reported.state == "failed" && reported.host_fault &&
            move_off_faulty_host(record, status.host_id, reported.reason)) {
          changed = true;
          continue;
        }
        // `draining` is never the agent's to say: a report of it for an instance the registry still wants
        // is stale (an agent that has not seen the newest state) and changes nothing.
        if (reported.state.empty() || reported.state == "draining" ||
            (record.state == reported.state && record.pid == reported.pid && record.reason == reported.reason))
          continue;
        SQLite::Statement update(db_, "UPDATE instances SET state=?, pid=?, reason=?, updated_ms=? WHERE id=?");
        update.bind(1, reported.state);
        update.bind(2, reported.pid);
        update.bind(3, reported.reason);
        update.bind(4, clock_.now_ms());
        update.bind(5, record.id);
        update.exec();
        if (record.state != reported.state)
          spdlog::info("instance {} of app {} on host {}: {} -> {}{}", record.id, record.app, status.host_id,
                       record.state, reported.state, reported.reason.empty() ? "" : " (" + reported.reason + ")");
        changed = true;
      }
    }
    // A draining instance its agent no longer reports has stopped (or never started): it goes.
    for (const auto& record : state_.instances) {
      if (record.host != status.host_id || record.state != "draining") continue;
      const bool reported = std::any_of(status.instances.begin(), status.instances.end(),
                                        [&](const msg::InstanceStatus& i) { return i.id == record.id; });
      if (reported) continue;
      SQLite::Statement gone(db_, "DELETE FROM instances WHERE id = ?");
      gone.bind(1, record.id);
      gone.exec();
      spdlog::info("instance {} of app {} drained and stopped on host {}", record.id, record.app, status.host_id);
      changed = true;
    }
    if (changed) reconcile();  // instances that became healthy, failed or went: rollouts and levels follow
    if (changed) bump_revision();
    tx.commit();
    if (changed) load();
    if (was_down) spdlog::info("host {} up again (revision {})", status.host_id, state_.revision);
    for (auto& h : state_.hosts)
      if (h.id == status.host_id) h.last_seen_ms = clock_.now_ms();
    last_heard_ms_[status.host_id] = clock_.steady_ms();
    return changed;
  } catch (const SQLite::Exception& e) {
    spdlog::error("heartbeat of host {} failed in the database: {}", status.host_id, e.what());
    load();
    return Status::Error(std::string("registry database error: ") + e.what());
  }
}

}  // namespace pier::registry
