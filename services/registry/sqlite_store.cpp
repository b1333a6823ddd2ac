#include "services/registry/sqlite_store.h"

#include "common/store.h"
#include "services/registry/schema.h"

namespace pier::registry {
namespace {

Status database_error(const SQLite::Exception& e) {
  return Status::Error(std::string("registry database error: ") + e.what());
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path) {
  try {
    return std::unique_ptr<SqliteStore>(new SqliteStore(store::open(path, migrations())));
  } catch (const SQLite::Exception& e) {
    return database_error(e);
  }
}

Result<Snapshot> SqliteStore::load() {
  try {
    Snapshot snapshot;
    snapshot.state.revision = rows_.meta("revision");
    snapshot.next_instance = rows_.meta("next_instance");
    for (auto& host : rows_.hosts()) {
      snapshot.subnet_index[host.record.id] = host.subnet_index;
      snapshot.state.hosts.push_back(std::move(host.record));
    }
    snapshot.state.apps = rows_.apps();
    snapshot.state.instances = rows_.instances();
    return snapshot;
  } catch (const SQLite::Exception& e) {
    return database_error(e);
  }
}

Status SqliteStore::commit(const Changes& changes) {
  try {
    // synchronous NORMAL in WAL mode: the commit is in the log, flushed to disk by the next durable one.
    if (!changes.durable) db_->exec("PRAGMA synchronous=NORMAL");
    const Status written = write(changes);
    if (!changes.durable) db_->exec("PRAGMA synchronous=FULL");
    return written;
  } catch (const SQLite::Exception& e) {
    return database_error(e);
  }
}

Status SqliteStore::write(const Changes& changes) {
  try {
    SQLite::Transaction tx(*db_);
    // Apps before the instances that name them; an app that goes, after its instances.
    for (const auto& [name, app] : changes.apps)
      if (app) rows_.put_app(*app, changes.time_ms);
    for (const auto& [id, instance] : changes.instances) {
      if (instance)
        rows_.put_instance(*instance);
      else
        rows_.delete_instance(id);
    }
    for (const auto& [name, app] : changes.apps)
      if (!app) rows_.delete_app(name);
    for (const auto& [id, host] : changes.hosts) {
      if (host)
        rows_.put_host(*host, changes.time_ms);
      else
        rows_.delete_host(id);
    }
    rows_.set_meta("revision", changes.revision);
    rows_.set_meta("next_instance", changes.next_instance);
    if (changes.request) rows_.put_request(*changes.request, changes.time_ms);
    tx.commit();
    return Status::Ok();
  } catch (const SQLite::Exception& e) {
    return database_error(e);
  }
}

Result<std::optional<msg::Reply>> SqliteStore::applied_reply(const std::string& request_id) {
  try {
    return rows_.reply(request_id);
  } catch (const SQLite::Exception& e) {
    return database_error(e);
  }
}

Status SqliteStore::forget_requests_before(int64_t time_ms) {
  try {
    rows_.delete_requests_before(time_ms);
    return Status::Ok();
  } catch (const SQLite::Exception& e) {
    return database_error(e);
  }
}

}  // namespace pier::registry
