// The registry: the single writer of pier's durable state. It validates and applies commands,
// records what agents report, and keeps the whole state (with a revision that rises on every change)
// in memory for publishing. Every accepted command is committed before its reply is made.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/messages.h"
#include "common/net.h"
#include "common/status.h"

namespace pier::registry {

struct Config {
  std::string platform_network = "127.100.0.0/16";  // exec hosts get one subnet of it each (loopback)
  std::string docker_network = "10.213.0.0/16";     // docker hosts get one subnet of it each (bridge)
  std::string routed_network = "10.212.0.0/16";     // exec hosts on an overlay get one subnet of it each
  int host_prefix = 24;                             // size of each host's subnet
  int64_t host_down_after_ms = 3000;                // a host not heard from this long is down
};

class Registry {
 public:
  // Loads the state from `db`, which store::open has migrated to schema.h. Throws on a database error.
  Registry(SQLite::Database& db, const Clock& clock, const Config& config);

  // Commands. Each returns the reply for the sender; a request id seen before gets the same reply
  // again and changes nothing.
  msg::Reply deploy(const std::string& request_id, const msg::DeployCommand& command);
  msg::Reply scale(const std::string& request_id, const msg::ScaleCommand& command);
  msg::Reply remove(const std::string& request_id, const msg::RemoveCommand& command);
  msg::Reply place(const std::string& request_id, const msg::PlaceCommand& command);

  // Records an agent's heartbeat (registering the host on its first one). Returns whether the
  // published state changed; an invalid heartbeat is refused with a reason.
  Result<bool> heartbeat(const msg::HostStatus& status);

  // Marks `suspect` every up host not heard from for `host_down_after_ms` (a host the registry has not
  // heard from since it started counts from the start). Its instances stay assigned and in every
  // HAProxy; in the same transaction replacements are created for them (reconcile()). Returns whether the
  // state changed.
  Result<bool> check_hosts();

  // The registry's timers: check_hosts() (when `judge_hosts`: the caller has read every heartbeat waiting),
  // then reconcile() (rollout timeouts, levels). Returns whether the state changed.
  Result<bool> tick(bool judge_hosts = true);

  // Forgets applied request ids older than `age_ms` (a client retries for seconds, not days).
  void forget_requests_older_than(int64_t age_ms);

  const msg::State& state() const { return state_; }

 private:
  template <typename Apply>
  msg::Reply run_command(const std::string& topic, const std::string& request_id, Apply apply);
  // Runs `change` in a transaction; when it returns true the revision rises, it commits and the state
  // is reloaded, otherwise it rolls back. A database error is logged (`what` failed) and returned.
  template <typename Change>
  Result<bool> mutate(const char* what, Change change);
  // What every change is followed by, inside its transaction: rollouts stepped, every app kept at its
  // level, suspect hosts left with nothing wanted marked down. Returns whether it changed anything.
  bool reconcile();
  // Keeps `app` at its replica count, counting only instances that are unplaced or on up hosts (those on
  // suspect hosts may never be heard of again): creates the missing ones (when some host is up), retires
  // surplus ones (`first`, then the usual order), and retires an instance on a suspect host only once a
  // running instance on an up host stands in for it. During a rollout step_rollout() keeps the count,
  // and this only retires instances on suspect hosts.
  bool keep_level(const std::string& app, const std::vector<std::string>& first = {});
  // Suspect hosts that run nothing wanted any more are `down`, and their retired instances forgotten.
  bool retire_empty_suspects();
  void load();
  void bump_revision();
  int64_t next_instance_seq();
  // A new pending instance (a new id, never used before) of `revision`; returns its id.
  std::string create_instance(const std::string& app, int64_t revision, const std::string& reason = "",
                              const std::string& failed_hosts = "");
  void create_instances(const std::string& app, int count, int64_t revision);
  // Deletes `count` of the app's instances: those of `first` that are the app's (in that order), then
  // those not running, then the newest.
  void delete_instances(const std::string& app, int count, const std::vector<std::string>& first = {});
  // An instance no longer wanted: deleted when never placed, else `draining` until its agent stops it.
  void retire_instance(const std::string& id, const std::string& why);
  Result<std::string> allocate_ip(const std::string& host_id);
  Result<std::pair<std::string, int64_t>> allocate_subnet(const msg::HostStatus& status);
  Status check_fits_a_host(const msg::AppSpec& spec) const;
  // An instance that `host` could not start (InstanceStatus::host_fault): retired, and a new instance
  // (a new id) created in its place that remembers the host in failed_hosts, when some other up host has
  // not failed it yet. Returns whether it was replaced.
  bool move_off_faulty_host(const msg::InstanceRecord& record, const std::string& host, const std::string& reason);
  Status check_port_conflicts(const msg::AppSpec& spec) const;

  // Rolling redeploys. All of these work inside the caller's transaction, on the database (the
  // in-memory state is reloaded after the commit).
  struct AppRow {
    msg::AppSpec spec;
    int64_t revision = 0;
    std::vector<msg::AppRevision> revisions;
    msg::Rollout rollout;
  };
  AppRow read_app(const std::string& name);
  void write_app(const std::string& name, const AppRow& app);
  // Starts replacing the app's instances with those of `row.revision` (the spec just deployed).
  void start_rollout(AppRow& row, int64_t from_revision);
  // Takes every step the rollout allows now: retires old instances as far as the healthy ones permit,
  // creates new ones within max_surge, rolls back (or gives up) on a timeout or a failed new instance,
  // ends it when only healthy new instances are left. Returns whether it changed anything.
  bool step_rollout(const std::string& app);
  // Every app whose rollout is under way; steps each. Returns whether anything changed.
  bool step_rollouts();
  const msg::AppRecord* find_app(const std::string& name) const;

  SQLite::Database& db_;
  const Clock& clock_;
  net::Ipv4Net platform_;
  net::Ipv4Net routed_network_;
  net::Ipv4Net docker_network_;
  int host_prefix_;
  int64_t host_down_after_ms_;
  int64_t started_ms_;                            // steady clock
  std::map<std::string, int64_t> last_heard_ms_;  // host id -> steady clock of its last heartbeat
  msg::State state_;
};

}  // namespace pier::registry
