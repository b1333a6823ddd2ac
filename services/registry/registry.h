// The registry: the single writer of pier's durable state. It validates and applies commands,
// records what agents report, and keeps the whole state (with a revision that rises on every change)
// in memory for publishing. Every accepted command is committed to its Store before its reply is made.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/messages.h"
#include "common/net.h"
#include "common/status.h"
#include "services/registry/store.h"

namespace pier::registry {

struct Config {
  // Each pool holds 4,096 hosts' /24s (a /16 held 256: too few for a fleet). Disjoint from the /16s the
  // pools were before (127.100, 10.212, 10.213), whose hosts keep their subnets.
  std::string platform_network = "127.112.0.0/12";  // exec hosts get one subnet of it each (loopback)
  std::string docker_network = "10.240.0.0/12";     // docker hosts get one subnet of it each (bridge)
  std::string routed_network = "10.224.0.0/12";     // exec hosts on an overlay get one subnet of it each
  int host_prefix = 24;                             // size of each host's subnet
  int64_t host_down_after_ms = 3000;                // a host not heard from this long is down
};

// The refusal of `request_id` (empty: a heartbeat's) for `status`: its field, rule and message.
msg::Reply error_reply(const std::string& request_id, const Status& status);

// The registry keeps the whole state in memory and decides there; every change goes through mutate(),
// which commits the records it touched to the Store at once, or restores memory when it is refused or
// the store fails. Rollout steps are planned by rollout.h; the registry applies the plan.
class Registry {
 public:
  // Loads the state from `store`, which outlives the registry. Throws std::invalid_argument on a bad
  // config and std::runtime_error when the store cannot be read.
  Registry(Store& store, const Clock& clock, const Config& config);

  // Commands. Each returns the reply for the sender; a request id seen before gets the same reply
  // again and changes nothing.
  msg::Reply deploy(const std::string& request_id, const msg::DeployCommand& command);
  msg::Reply scale(const std::string& request_id, const msg::ScaleCommand& command);
  msg::Reply remove(const std::string& request_id, const msg::RemoveCommand& command);
  msg::Reply place(const std::string& request_id, const msg::PlaceCommand& command);

  // Records an agent's heartbeat (registering the host on its first one). Returns whether the
  // published state changed: with a new revision, or only in soft state (the host's LbStatus and peers:
  // no revision, not stored). An invalid heartbeat, or a new host that cannot get a subnet, is refused
  // with a reason (and changes nothing: refuse_host() lists it).
  Result<bool> heartbeat(const msg::HostStatus& status);

  // Lists `host` among the state's refused hosts with `why` (soft: no revision, nothing stored). Returns
  // whether the list changed in what it shows (a new host or a new reason: worth publishing).
  bool refuse_host(const std::string& host, const Status& why);
  // At most this many hosts are listed as refused at once.
  static constexpr std::size_t kMaxRefusedHosts = 1024;

  // Marks `suspect` every up host not heard from for `host_down_after_ms` (a host the registry has not
  // heard from since it started counts from the start). Its instances stay assigned and in every
  // HAProxy; in the same change replacements are created for them (reconcile()). Returns whether the
  // state changed.
  Result<bool> check_hosts();

  // The registry's timers: check_hosts() (when `judge_hosts`: the caller has read every heartbeat waiting),
  // then reconcile() (rollout timeouts, levels). Returns whether the state changed.
  Result<bool> tick(bool judge_hosts = true);

  // Forgets applied request ids older than `age_ms` (a client retries for seconds, not days).
  Status forget_requests_older_than(int64_t age_ms);

  const msg::State& state() const { return state_; }

 private:
  // What the change under way touched: the records named here go to the store; the collections copied
  // here are put back when it does not commit. Each collection is copied on its first edit only.
  struct Edit {
    std::set<std::string> hosts, apps, instances;
    std::optional<std::vector<msg::HostRecord>> hosts_before;
    std::optional<std::vector<msg::AppRecord>> apps_before;
    std::optional<std::vector<msg::InstanceRecord>> instances_before;
    std::optional<std::map<std::string, int64_t>> subnet_index_before;
    int64_t next_instance_before = 0;
    bool reconciled = false;  // the change ended in reconcile() (the timer's): mutate() need not run it again
  };

  // The one way anything changes. `change` edits the state (through the put/erase functions below)
  // and returns whether it changed anything, or a refusal. A change is followed by reconcile(), the
  // revision rises, and the store commits it all, with `request` (whose reply gets the new revision)
  // for a command. On a refusal, nothing to do, or a store error, memory is as it was.
  template <typename Change>
  Result<bool> mutate(const char* what, Change change, std::optional<AppliedRequest> request = std::nullopt,
                      bool durable = true);
  void restore();
  Changes changes_made() const;
  // A command: an empty or a known request id is answered at once; otherwise mutate(apply).
  template <typename Apply>
  msg::Reply run_command(const std::string& topic, const std::string& request_id, Apply apply);

  // Edits of the change under way (mutate()).
  void put_host(const msg::HostRecord& host);              // inserted in id order when new
  void put_app(const msg::AppRecord& app);                 // appended when new
  void put_instance(const msg::InstanceRecord& instance);  // appended when new (serials only rise)
  void erase_app(const std::string& name);                 // and its instances
  void erase_instance(const std::string& id);
  void set_subnet_index(const std::string& host, int64_t index);
  // Drops the refused hosts not heard from for host_down_after_ms. Returns whether any went.
  bool forget_quiet_refusals();

  // What every change is followed by: rollouts stepped, every app kept at its level, suspect hosts left
  // with nothing wanted marked down. Returns whether it changed anything.
  bool reconcile();
  // Keeps `app` at its replica count, counting only instances that are unplaced or on up hosts (those on
  // suspect hosts may never be heard of again): creates the missing ones (when some host is up), retires
  // surplus ones (`first`, then the usual order), and retires an instance on a suspect host only once a
  // running instance on an up host stands in for it. During a rollout step_rollout() keeps the count,
  // and this only retires instances on suspect hosts.
  bool keep_level(const std::string& app, const std::vector<std::string>& first = {});
  // Suspect hosts that run nothing wanted any more are `down`, and their retired instances forgotten.
  bool retire_empty_suspects();
  // The rollout's step now (plan_rollout), applied. Returns whether it changed anything.
  bool step_rollout(const std::string& app);
  // A new pending instance (a new id, never used before) of `revision`; returns its id.
  std::string create_instance(const std::string& app, int64_t revision, const std::string& reason = "",
                              const std::vector<std::string>& failed_hosts = {});
  void create_instances(const std::string& app, int count, int64_t revision);
  // Retires `count` of the app's instances: those of `first` that are the app's (in that order), then
  // those of an earlier revision, then those not running, then the newest.
  void delete_instances(const std::string& app, int count, const std::vector<std::string>& first = {});
  // An instance no longer wanted: deleted when never placed, else `draining` until its agent stops it.
  void retire_instance(const std::string& id, const std::string& why);
  // An instance that `host` could not start (InstanceStatus::host_fault): retired, and a new instance
  // (a new id) created in its place that remembers the host in failed_hosts, when some other up host has
  // not failed it yet. Returns whether it was replaced.
  bool move_off_faulty_host(const msg::InstanceRecord& record, const std::string& host, const std::string& reason);
  // Whether `instance` counts as its app's: unplaced, or on an up host.
  bool on_up_host_or_unplaced(const msg::InstanceRecord& instance) const;
  // The app's instances that are not draining and count as its own, in serial order.
  std::vector<msg::InstanceRecord> counted_instances(const std::string& app) const;

  Result<std::string> allocate_ip(const std::string& host_id) const;
  Result<std::pair<std::string, int64_t>> allocate_subnet(const msg::HostStatus& status) const;
  Status check_fits_a_host(const msg::AppSpec& spec) const;
  Status check_port_conflicts(const msg::AppSpec& spec) const;
  const msg::AppRecord* find_app(const std::string& name) const;
  const msg::HostRecord* find_host(const std::string& id) const;
  const msg::InstanceRecord* find_instance(const std::string& id) const;

  Store& store_;
  const Clock& clock_;
  net::Ipv4Net platform_;
  net::Ipv4Net routed_network_;
  net::Ipv4Net docker_network_;
  int host_prefix_;
  int64_t host_down_after_ms_;
  int64_t started_ms_;                            // steady clock
  std::map<std::string, int64_t> last_heard_ms_;  // host id -> steady clock of its last heartbeat
  msg::State state_;
  int64_t next_instance_ = 1;
  std::map<std::string, int64_t> subnet_index_;  // host id -> its subnet's index across the pools
  std::optional<Edit> edit_;                     // while a change is under way
};

}  // namespace pier::registry
