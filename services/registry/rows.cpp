#include "services/registry/rows.h"

#include "common/codec.h"
#include "common/states.h"

namespace pier::registry {
namespace {

// Blob columns hold maps (codec::decode reads maps only): a list goes in one as {"<name>": [...]}.
struct StoredRevisions {
  std::vector<msg::AppRevision> revisions;
  MSGPACK_DEFINE_MAP(revisions);
};

struct StoredPeers {
  std::vector<msg::PeerReach> peers;
  MSGPACK_DEFINE_MAP(peers);
};

// A blob that does not decode (or NULL: a column added by a later migration) reads as the default.
template <typename T>
T decode(const SQLite::Column& column) {
  if (column.isNull()) return T{};
  const std::string bytes(static_cast<const char*>(column.getBlob()), static_cast<std::size_t>(column.getBytes()));
  auto decoded = codec::decode<T>(bytes);
  return decoded.ok() ? *decoded : T{};
}

template <typename T>
void bind_encoded(SQLite::Statement& statement, const char* name, const T& value) {
  const std::string bytes = codec::encode(value);
  statement.bind(name, bytes.data(), static_cast<int>(bytes.size()));  // bind() copies blobs
}

}  // namespace

SQLite::Statement& Rows::statement(const char* sql) {
  auto& prepared = statements_[sql];
  if (!prepared) prepared = std::make_unique<SQLite::Statement>(db_, sql);
  prepared->reset();
  prepared->clearBindings();
  return *prepared;
}

int64_t Rows::meta(const char* key) {
  auto& select = statement("SELECT value FROM meta WHERE key = :key");
  select.bind(":key", key);
  if (!select.executeStep()) throw SQLite::Exception(std::string("meta has no ") + key);
  const int64_t value = select.getColumn("value").getInt64();
  select.reset();  // a statement left stepping holds its read open
  return value;
}

void Rows::set_meta(const char* key, int64_t value) {
  auto& update = statement("UPDATE meta SET value = :value WHERE key = :key");
  update.bind(":value", value);
  update.bind(":key", key);
  update.exec();
}

std::vector<StoredHost> Rows::hosts() {
  auto& select = statement(
      "SELECT id, hostname, address, cpus, memory_bytes, runtime, subnet, subnet_index, haproxy_socket, stats_port, "
      "status, lb, overlay, peers FROM hosts ORDER BY id");
  std::vector<StoredHost> out;
  while (select.executeStep()) {
    StoredHost stored;
    msg::HostRecord& h = stored.record;
    h.id = select.getColumn("id").getString();
    h.hostname = select.getColumn("hostname").getString();
    h.address = select.getColumn("address").getString();
    h.cpus = select.getColumn("cpus").getInt();
    h.memory_bytes = select.getColumn("memory_bytes").getInt64();
    h.runtime = select.getColumn("runtime").getString();
    h.subnet = select.getColumn("subnet").getString();
    h.haproxy_socket = select.getColumn("haproxy_socket").getString();
    h.stats_port = select.getColumn("stats_port").getInt();
    h.status = select.getColumn("status").getString();
    h.lb = decode<msg::LbStatus>(select.getColumn("lb"));
    h.overlay = decode<msg::OverlayInfo>(select.getColumn("overlay"));
    h.peers = decode<StoredPeers>(select.getColumn("peers")).peers;
    stored.subnet_index = select.getColumn("subnet_index").getInt64();
    out.push_back(std::move(stored));
  }
  return out;
}

void Rows::put_host(const StoredHost& stored, int64_t time_ms) {
  const msg::HostRecord& h = stored.record;
  auto& upsert = statement(
      "INSERT INTO hosts(id, hostname, address, cpus, memory_bytes, runtime, subnet, subnet_index, haproxy_socket, "
      "stats_port, status, lb, overlay, peers, registered_ms) VALUES (:id, :hostname, :address, :cpus, "
      ":memory_bytes, :runtime, :subnet, :subnet_index, :haproxy_socket, :stats_port, :status, :lb, :overlay, "
      ":peers, :time_ms) ON CONFLICT(id) DO UPDATE SET hostname = excluded.hostname, address = excluded.address, "
      "cpus = excluded.cpus, memory_bytes = excluded.memory_bytes, runtime = excluded.runtime, subnet = "
      "excluded.subnet, subnet_index = excluded.subnet_index, haproxy_socket = excluded.haproxy_socket, stats_port "
      "= excluded.stats_port, status = excluded.status, lb = excluded.lb, overlay = excluded.overlay, peers = "
      "excluded.peers");
  upsert.bind(":id", h.id);
  upsert.bind(":hostname", h.hostname);
  upsert.bind(":address", h.address);
  upsert.bind(":cpus", h.cpus);
  upsert.bind(":memory_bytes", h.memory_bytes);
  upsert.bind(":runtime", h.runtime);
  upsert.bind(":subnet", h.subnet);
  upsert.bind(":subnet_index", stored.subnet_index);
  upsert.bind(":haproxy_socket", h.haproxy_socket);
  upsert.bind(":stats_port", h.stats_port);
  upsert.bind(":status", h.status);
  bind_encoded(upsert, ":lb", h.lb);
  bind_encoded(upsert, ":overlay", h.overlay);
  bind_encoded(upsert, ":peers", StoredPeers{h.peers});
  upsert.bind(":time_ms", time_ms);
  upsert.exec();
}

void Rows::delete_host(const std::string& id) {
  auto& remove = statement("DELETE FROM hosts WHERE id = :id");
  remove.bind(":id", id);
  remove.exec();
}

std::vector<msg::AppRecord> Rows::apps() {
  auto& select = statement("SELECT spec, revision, revisions, rollout FROM apps ORDER BY rowid");
  std::vector<msg::AppRecord> out;
  while (select.executeStep()) {
    msg::AppRecord a;
    a.spec = decode<msg::AppSpec>(select.getColumn("spec"));
    a.revision = select.getColumn("revision").getInt64();
    a.revisions = decode<StoredRevisions>(select.getColumn("revisions")).revisions;
    a.rollout = decode<msg::Rollout>(select.getColumn("rollout"));
    out.push_back(std::move(a));
  }
  return out;
}

void Rows::put_app(const msg::AppRecord& app, int64_t time_ms) {
  auto& upsert = statement(
      "INSERT INTO apps(name, spec, revision, revisions, rollout, created_ms) VALUES (:name, :spec, :revision, "
      ":revisions, :rollout, :time_ms) ON CONFLICT(name) DO UPDATE SET spec = excluded.spec, revision = "
      "excluded.revision, revisions = excluded.revisions, rollout = excluded.rollout");
  upsert.bind(":name", app.spec.name);
  bind_encoded(upsert, ":spec", app.spec);
  upsert.bind(":revision", app.revision);
  bind_encoded(upsert, ":revisions", StoredRevisions{app.revisions});
  bind_encoded(upsert, ":rollout", app.rollout);
  upsert.bind(":time_ms", time_ms);
  upsert.exec();
}

void Rows::delete_app(const std::string& name) {
  auto& remove = statement("DELETE FROM apps WHERE name = :name");  // its instances go with it (ON DELETE CASCADE)
  remove.bind(":name", name);
  remove.exec();
}

std::vector<msg::InstanceRecord> Rows::instances() {
  std::map<std::string, std::vector<std::string>> failed;
  auto& hosts = statement("SELECT instance, host FROM instance_failed_hosts ORDER BY instance, position");
  while (hosts.executeStep())
    failed[hosts.getColumn("instance").getString()].push_back(hosts.getColumn("host").getString());
  auto& select =
      statement("SELECT id, app, host, ip, state, reason, pid, updated_ms, revision FROM instances ORDER BY seq");
  std::vector<msg::InstanceRecord> out;
  while (select.executeStep()) {
    msg::InstanceRecord i;
    i.id = select.getColumn("id").getString();
    i.app = select.getColumn("app").getString();
    i.host = select.getColumn("host").getString();
    i.ip = select.getColumn("ip").getString();
    i.state = select.getColumn("state").getString();
    i.reason = select.getColumn("reason").getString();
    i.pid = select.getColumn("pid").getInt();
    i.updated_ms = select.getColumn("updated_ms").getInt64();
    i.revision = select.getColumn("revision").getInt64();
    if (auto it = failed.find(i.id); it != failed.end()) i.failed_hosts = std::move(it->second);
    out.push_back(std::move(i));
  }
  return out;
}

void Rows::put_instance(const msg::InstanceRecord& i) {
  auto& upsert = statement(
      "INSERT INTO instances(id, app, seq, host, ip, state, reason, pid, updated_ms, revision) VALUES (:id, :app, "
      ":seq, :host, :ip, :state, :reason, :pid, :updated_ms, :revision) ON CONFLICT(id) DO UPDATE SET host = "
      "excluded.host, ip = excluded.ip, state = excluded.state, reason = excluded.reason, pid = excluded.pid, "
      "updated_ms = excluded.updated_ms, revision = excluded.revision");
  upsert.bind(":id", i.id);
  upsert.bind(":app", i.app);
  upsert.bind(":seq", static_cast<int64_t>(states::instance_serial(i.id)));
  upsert.bind(":host", i.host);
  upsert.bind(":ip", i.ip);
  upsert.bind(":state", i.state);
  upsert.bind(":reason", i.reason);
  upsert.bind(":pid", i.pid);
  upsert.bind(":updated_ms", i.updated_ms);
  upsert.bind(":revision", i.revision);
  upsert.exec();
  auto& clear = statement("DELETE FROM instance_failed_hosts WHERE instance = :id");
  clear.bind(":id", i.id);
  clear.exec();
  for (std::size_t n = 0; n < i.failed_hosts.size(); ++n) {
    auto& insert =
        statement("INSERT INTO instance_failed_hosts(instance, position, host) VALUES (:id, :position, :host)");
    insert.bind(":id", i.id);
    insert.bind(":position", static_cast<int64_t>(n));
    insert.bind(":host", i.failed_hosts[n]);
    insert.exec();
  }
}

void Rows::delete_instance(const std::string& id) {
  auto& remove = statement("DELETE FROM instances WHERE id = :id");  // its failed hosts go with it
  remove.bind(":id", id);
  remove.exec();
}

std::optional<msg::Reply> Rows::reply(const std::string& request_id) {
  auto& select = statement("SELECT reply FROM applied_requests WHERE request_id = :id");
  select.bind(":id", request_id);
  if (!select.executeStep()) return std::nullopt;
  auto reply = decode<msg::Reply>(select.getColumn("reply"));
  select.reset();
  return reply;
}

void Rows::put_request(const AppliedRequest& request, int64_t time_ms) {
  auto& insert = statement(
      "INSERT INTO applied_requests(request_id, topic, reply, time_ms) VALUES (:id, :topic, :reply, :time_ms)");
  insert.bind(":id", request.request_id);
  insert.bind(":topic", request.topic);
  bind_encoded(insert, ":reply", request.reply);
  insert.bind(":time_ms", time_ms);
  insert.exec();
}

int Rows::delete_requests_before(int64_t time_ms) {
  auto& remove = statement("DELETE FROM applied_requests WHERE time_ms < :time_ms");
  remove.bind(":time_ms", time_ms);
  return remove.exec();
}

}  // namespace pier::registry
