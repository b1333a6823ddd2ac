// Where the registry's durable state lives: an interface the registry takes, so that the embedded
// SQLite store (sqlite_store.h) and a replicated one plug in alike. The registry keeps the whole state in
// memory and decides there; a store only loads it once and then commits, all or nothing, the records each
// change touched (Mesos' Registrar, LevelDB's WriteBatch).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "common/messages.h"
#include "common/status.h"

namespace pier::registry {

// Everything a store holds, as the registry starts from it.
struct Snapshot {
  // Hosts by id, apps in the order they were first deployed, instances by serial (states::instance_serial).
  // HostRecord.last_seen_ms is not stored (it changes every heartbeat and is no state change).
  msg::State state;
  int64_t next_instance = 1;                    // the serial of the next instance id
  std::map<std::string, int64_t> subnet_index;  // host id -> its subnet's index, unique across the pools
};

// A host as stored: its record and the index of its subnet.
struct StoredHost {
  msg::HostRecord record;
  int64_t subnet_index = 0;
};

// A command applied, with the reply it got: the same request id retried gets it again.
struct AppliedRequest {
  std::string request_id;
  std::string topic;
  msg::Reply reply;
};

// What one change did, per record: the record as it is now, or nullopt when it went.
struct Changes {
  int64_t revision = 0;       // the state's revision after it
  int64_t next_instance = 1;  // and the serial counter
  int64_t time_ms = 0;        // wall clock: when new hosts and apps were first stored, when a request was applied
  // Whether it must be on disk before commit() returns. Commands, yes (a reply promises them). An agent's
  // heartbeat, no: its agent sends its whole status again every second, so a power cut costs at most the
  // last second of reports, which the next heartbeat restores; the next durable commit syncs them too.
  // This keeps a disk flush, whose tail reaches tens of milliseconds, off the path from "instance
  // running" to "in HAProxy".
  bool durable = true;
  std::map<std::string, std::optional<StoredHost>> hosts;
  std::map<std::string, std::optional<msg::AppRecord>> apps;
  std::map<std::string, std::optional<msg::InstanceRecord>> instances;
  std::optional<AppliedRequest> request;
};

class Store {
 public:
  virtual ~Store() = default;
  virtual Result<Snapshot> load() = 0;
  // Commits every record of `changes` at once, or none of them (an error says why).
  virtual Status commit(const Changes& changes) = 0;
  // The reply a request id got when it was applied; nullopt when it never was.
  virtual Result<std::optional<msg::Reply>> applied_reply(const std::string& request_id) = 0;
  // Forgets applied request ids applied before `time_ms` (wall clock).
  virtual Status forget_requests_before(int64_t time_ms) = 0;
};

}  // namespace pier::registry
