// The wire format of every message on pier's bus: the public interface, catalogued in
// docs/MESSAGES.md. Every struct is a msgpack map (MSGPACK_DEFINE_MAP): readers ignore keys they do
// not know and keep the default of keys that are missing, so fields may only ever be added, never
// renamed, re-typed or removed. Change this file and docs/MESSAGES.md in the same commit.
#pragma once

#include <cstdint>
#include <map>
#include <msgpack.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/states.h"

namespace pier::msg {

inline constexpr int kSchemaVersion = 1;

// Second frame of every message.
struct Header {
  int schema = kSchemaVersion;
  std::string sender;      // who published: "registry", "agent/host-a", "cli/1234-ab12", ...
  uint64_t seq = 0;        // per-sender sequence, starts at 1, +1 per message published
  int64_t time_ms = 0;     // sender's wall clock, ms since the epoch
  std::string request_id;  // commands and their replies only
  MSGPACK_DEFINE_MAP(schema, sender, seq, time_ms, request_id);
};

// ---------------------------------------------------------------------------------------------
// The application spec (what `pier deploy` sends).

struct PortMapping {
  int external = 0;  // port HAProxy listens on, on every host
  int internal = 0;  // port the instance listens on, on its own IP
  MSGPACK_DEFINE_MAP(external, internal);
};

// One load target of an autoscale policy: keep `metric` per instance near `value`.
struct AutoscaleTarget {
  std::string metric;  // cpu_percent (average per instance, % of one core) | requests_per_second (per
                       // instance) | p95_latency_ms (of the app)
  double value = 0;    // above 0
  MSGPACK_DEFINE_MAP(metric, value);
};

// A period of the day with its own bounds, in the policy's time zone. end_hour <= start_hour wraps
// midnight (22 -> 6 is 22:00 to 06:00 the next morning; equal hours is a whole day from start_hour);
// such a period belongs to the day it starts on.
struct AutoscalePeriod {
  std::vector<std::string> days;  // mon tue wed thu fri sat sun; empty = every day
  int start_hour = 0;             // 0-23, local, inclusive
  int end_hour = 0;               // 0-23, local, exclusive
  int min = 1;
  int max = 1;
  MSGPACK_DEFINE_MAP(days, start_hour, end_hour, min, max);
};

// How pier-metrics scales an app (off unless enabled). The first schedule period that is active
// sets min/max; outside every period the policy's own min/max apply.
struct AutoscalePolicy {
  bool enabled = false;
  int min = 1;
  int max = 10;
  std::vector<AutoscaleTarget> targets;  // none: scale by schedule only
  int up_window_s = 30;                  // scale up only if every answer in this window says up
  int down_window_s = 300;               // scale down only if every answer in this window says down
  int cooldown_s = 60;                   // no load-driven change this soon after the last change
  int max_step = 2;                      // at most this many instances added or removed per decision
  int stale_after_s = 30;                // metrics older than this: hold (never scale down)
  std::string timezone = "UTC";          // IANA name, for the schedule
  std::vector<AutoscalePeriod> schedule;
  int prewarm_s = 120;  // a period's min applies this long before it starts
  MSGPACK_DEFINE_MAP(enabled, min, max, targets, up_window_s, down_window_s, cooldown_s, max_step, stale_after_s,
                     timezone, schedule, prewarm_s);
};

struct AppSpec {
  std::string name;   // DNS label
  std::string image;  // Docker reference grammar, without the tag
  std::string tag = "latest";
  std::vector<std::string> command;  // argv for the exec runtime (no shell)
  std::vector<PortMapping> ports;
  std::string protocol = "http";  // http | tcp
  int replicas = 1;
  double cpu = 0.1;  // cores
  int64_t memory_bytes = 64LL << 20;
  std::map<std::string, std::string> env;
  std::string context_path = "/";        // http only: requests whose path starts here go to this app
  std::string algorithm = "roundrobin";  // roundrobin | leastconn | source
  AutoscalePolicy autoscale;
  std::string health_path = "/";  // http only: HAProxy checks GET <health_path> (2xx/3xx = up)
  int check_rise = 2;             // consecutive passed checks before a server takes traffic
  int check_fall = 3;             // consecutive failed checks before it stops taking traffic
  int check_inter_ms = 2000;      // time between two checks of one server
  // Before an instance stops (scale-in, rm, redeploy) it leaves the load balancer and its connections
  // finish; it is stopped when none is left or after this long.
  int drain_timeout_ms = 30'000;
  // tcp only: each connection to an instance starts with a PROXY protocol v2 header (the client's
  // address); http apps get X-Forwarded-For instead.
  bool proxy_protocol = false;
  // A redeploy that changes what instances run replaces them in steps: at most `max_surge` instances
  // above `replicas` and at most `max_unavailable` below it, counting only instances that pass their
  // health check. When the new instances do not all pass it within `rollout_timeout_ms` of the last
  // step forward, the rollout is rolled back to the revision it started from.
  int max_surge = 1;
  int max_unavailable = 0;
  int rollout_timeout_ms = 60'000;
  MSGPACK_DEFINE_MAP(name, image, tag, command, ports, protocol, replicas, cpu, memory_bytes, env, context_path,
                     algorithm, autoscale, health_path, check_rise, check_fall, check_inter_ms, drain_timeout_ms,
                     proxy_protocol, max_surge, max_unavailable, rollout_timeout_ms);
};

// ---------------------------------------------------------------------------------------------
// Commands (topic cmd.*), each answered by a Reply on reply.<sender>.

struct DeployCommand {
  AppSpec app;
  MSGPACK_DEFINE_MAP(app);
};

struct ScaleCommand {
  // Constructors (not an aggregate) so that ScaleCommand{app, replicas} stays warning-free.
  ScaleCommand() = default;
  ScaleCommand(std::string app_, int replicas_, std::vector<std::string> remove_first_ = {})
      : app(std::move(app_)), replicas(replicas_), remove_first(std::move(remove_first_)) {}
  std::string app;
  int replicas = -1;
  // Scale-in: instances of the app to remove first, in this order (pier-metrics: the least busy).
  // Ids that are not the app's are ignored; at most 1000, each a DNS label.
  std::vector<std::string> remove_first;
  MSGPACK_DEFINE_MAP(app, replicas, remove_first);
};

struct RemoveCommand {
  std::string app;
  MSGPACK_DEFINE_MAP(app);
};

struct Assignment {
  std::string instance;
  std::string host;
  MSGPACK_DEFINE_MAP(instance, host);
};

struct Unplaced {
  std::string instance;
  std::string reason;
  MSGPACK_DEFINE_MAP(instance, reason);
};

// From the scheduler: put these instances on these hosts (idempotent: an instance already placed
// is left where it is).
struct PlaceCommand {
  int64_t state_revision = 0;  // the state the decision was made from
  std::vector<Assignment> assignments;
  std::vector<Unplaced> unplaced;
  MSGPACK_DEFINE_MAP(state_revision, assignments, unplaced);
};

// Asks the registry to publish the whole state now (on state.full).
struct SnapshotRequest {
  std::string reason;  // "start", "gap", ... for the registry's log
  MSGPACK_DEFINE_MAP(reason);
};

struct Reply {
  std::string request_id;
  bool ok = false;
  std::string field;     // on error: the field that broke a rule ("ports[0].external")
  std::string rule;      // on error: the rule ("must be between 1 and 65535")
  std::string message;   // human-readable summary
  int64_t revision = 0;  // state revision after the command
  MSGPACK_DEFINE_MAP(request_id, ok, field, rule, message, revision);
};

// ---------------------------------------------------------------------------------------------
// State (topic state.full): the registry's whole view, with a revision that rises on every change.

// One app's servers in a host's running HAProxy config (LbStatus.apps, common/lb_summary.h): what a
// deploy waits on and `pier hosts` shows, at a size that does not grow with every server's name.
struct LbApp {
  std::string app;
  int listed = 0;      // the app's instances listed as servers
  int up = 0;          // of those, the ones this HAProxy's own check finds answering
  std::string digest;  // lb::servers_digest of the listed instance ids: equal sets, equal digests
  // Listed but not up, sorted: at most lb::kMaxDownNamed of them (listed - up says how many in all).
  std::vector<std::string> down;
  MSGPACK_DEFINE_MAP(app, listed, up, digest, down);
};

struct LbStatus {
  std::string hash;            // hash of the haproxy.cfg the agent runs
  int64_t state_revision = 0;  // state revision that config was generated from
  // Instance ids present as servers in the running config. Sent by agents before `apps`; this version's
  // agents send it empty (heartbeats would grow with hosts x instances) and keep it for themselves.
  std::vector<std::string> servers;
  std::string error;  // last rejected config's reason, empty when fine
  int64_t reloads = 0;
  int64_t runtime_updates = 0;  // server changes applied through the Runtime API (no reload)
  // Of `servers`: those this HAProxy's own health check finds answering (`show stat`: status UP and the
  // last check passed). An instance listed but not here is one this host cannot reach or that fails.
  // Empty on the wire as `servers` is.
  std::vector<std::string> servers_up;
  bool reports_servers_up = false;  // false from agents older than servers_up: then only `servers` tells
  std::vector<LbApp> apps;          // `servers` per app, sorted by app
  bool reports_apps = false;        // false from agents older than `apps`: then `servers` tells
  MSGPACK_DEFINE_MAP(hash, state_revision, servers, error, reloads, runtime_updates, servers_up, reports_servers_up,
                     apps, reports_apps);
};

// This host's end of the overlay network that makes every host's subnet reachable from every other
// host (pier-agent --overlay; docs/FLEET.md). An empty mode: no overlay (one machine, loopback subnets).
struct OverlayInfo {
  std::string mode;      // "" | vxlan | host-gw
  std::string underlay;  // IPv4 other hosts send overlay traffic to (VXLAN packets, or routed packets)
  std::string vtep_mac;  // vxlan: the MAC of this host's VXLAN device, "0a:1b:2c:3d:4e:5f"
  int vni = 0;           // vxlan: the VXLAN network identifier (every host of a fleet uses the same)
  int port = 0;          // vxlan: the UDP port VXLAN packets go to
  int mtu = 0;           // MTU instances get (vxlan: the underlay's MTU - 50); 0: not known
  int probe_port = 0;    // TCP port the agent answers on at its subnet's first address, for peers' checks
  MSGPACK_DEFINE_MAP(mode, underlay, vtep_mac, vni, port, mtu, probe_port);
};

// Whether this host reaches another host's subnet through the overlay: a TCP connect from this host
// to the peer's probe address (the first address of its subnet) and port.
struct PeerReach {
  std::string host;
  bool reachable = false;
  int64_t rtt_us = 0;  // of the last successful connect
  std::string error;   // when not reachable: why ("connect timed out", "no overlay entry: vtep_mac ...")
  MSGPACK_DEFINE_MAP(host, reachable, rtt_us, error);
};

struct HostRecord {
  std::string id;
  std::string hostname;
  std::string address;  // where HAProxy on this host listens for clients
  int cpus = 0;
  int64_t memory_bytes = 0;
  std::string runtime;         // exec | docker
  std::string subnet;          // CIDR assigned by the registry, instance IPs come from it
  std::string haproxy_socket;  // agent-local path of HAProxy's admin socket
  int stats_port = 0;          // HAProxy stats + Prometheus exporter port on this host
  int64_t last_seen_ms = 0;
  std::string status = states::host::kUp;  // states::host: up | suspect (not heard from: replaced, not removed) | down
  LbStatus lb;
  OverlayInfo overlay;
  std::vector<PeerReach> peers;  // the other hosts it reaches through the overlay, or not (and why)
  bool renders_lb = false;       // its agent renders haproxy.cfg from lb.spec (HostStatus.renders_lb)
  MSGPACK_DEFINE_MAP(id, hostname, address, cpus, memory_bytes, runtime, subnet, haproxy_socket, stats_port,
                     last_seen_ms, status, lb, overlay, peers, renders_lb);
};

struct InstanceRecord {
  std::string id;  // unique forever: "<app>-<n>"
  std::string app;
  std::string host;                                // empty until placed
  std::string ip;                                  // from the host's subnet, set when placed
  std::string state = states::instance::kPending;  // states::instance (pending | placed | starting | running | failed |
                                                   // stopped | draining)
  std::string reason;                              // why pending or failed
  int pid = 0;
  int64_t updated_ms = 0;
  // Hosts that could not start it (runtime errors, not the app's own exits); it is not placed on them again.
  std::vector<std::string> failed_hosts;
  // The app revision whose spec it runs (AppRecord.revision, or one of AppRecord.revisions during a
  // rollout). 0 from a registry older than rollouts: the app's revision.
  int64_t revision = 0;
  MSGPACK_DEFINE_MAP(id, app, host, ip, state, reason, pid, updated_ms, failed_hosts, revision);
};

// An earlier spec of an app that instances still run (or that a rollout may return to).
struct AppRevision {
  int64_t revision = 0;
  AppSpec spec;
  MSGPACK_DEFINE_MAP(revision, spec);
};

// The replacement of an app's instances after a redeploy changed what they run.
struct Rollout {
  // "" (never rolled out) | rolling | done | rolling_back | rolled_back | stuck (a rollback that did not
  // complete either: nothing more is replaced until the next deploy).
  std::string state;
  int64_t from_revision = 0;  // what it replaces, and returns to when it fails
  int64_t to_revision = 0;    // what it brings
  std::string reason;         // why it rolls or rolled back (or is stuck)
  int64_t started_ms = 0;     // wall clock
  int64_t progress_ms = 0;    // wall clock of the last step forward (the timeout counts from here)
  int ready = 0;              // instances of to_revision that pass their health check, at the last step
  MSGPACK_DEFINE_MAP(state, from_revision, to_revision, reason, started_ms, progress_ms, ready);

  bool under_way() const { return state == states::rollout::kRolling || state == states::rollout::kRollingBack; }
};

struct AppRecord {
  AppSpec spec;
  int64_t revision = 0;                // state revision of the last change to the instances' spec (not to replicas)
  std::vector<AppRevision> revisions;  // other specs instances still run (during a rollout)
  Rollout rollout;
  MSGPACK_DEFINE_MAP(spec, revision, revisions, rollout);
};

// An agent whose heartbeats the registry refuses: it cannot be given a subnet (the pool is full), or
// its status breaks a rule. Soft: kept in the registry's memory only, dropped once the host is accepted
// or sends nothing for host-down-after-ms; `pier hosts` lists it, and the agent hears why on its reply
// topic.
struct RefusedHost {
  std::string host_id;
  std::string field;     // the field that broke a rule, or empty ("the platform network ... has no subnet left")
  std::string reason;    // the rule, or why
  int64_t since_ms = 0;  // wall clock of the first refusal with this reason
  int64_t last_ms = 0;   // wall clock of the latest
  MSGPACK_DEFINE_MAP(host_id, field, reason, since_ms, last_ms);
};

struct State {
  int64_t revision = 0;
  std::vector<HostRecord> hosts;
  std::vector<AppRecord> apps;
  std::vector<InstanceRecord> instances;
  // Not covered by `revision` (nothing durable changes when a host is refused): a state.full with the
  // same revision may list other refused hosts.
  std::vector<RefusedHost> refused_hosts;
  // The delta stream this state belongs to (added 2026-12; empty from older registries, which publish no
  // deltas): `delta` is the number of the last state.delta whose changes it includes, so a reader applies
  // the deltas numbered after it.
  std::string stream;
  int64_t delta = 0;
  MSGPACK_DEFINE_MAP(revision, hosts, apps, instances, refused_hosts, stream, delta);
};

// A change of the state (topic state.delta, added 2026-12): the records new or changed since the delta
// numbered `number - 1` of the same `stream`, and the keys of those gone. A delta whose number is the
// reader's own changes nothing (the registry's beacon, every publish interval): it tells a reader that
// missed the last delta that it did. A reader that sees a number further on, or another stream (the
// registry restarted), asks for state.full (cmd.snapshot) and keeps what it holds until it comes.
struct StateDelta {
  std::string stream;             // the registry's run: numbers count from 1 in each
  int64_t number = 0;             // rises by one per delta that changes something
  int64_t revision = 0;           // the state's revision once applied
  std::vector<HostRecord> hosts;  // new or changed; a host's last_seen_ms alone is no change
  std::vector<AppRecord> apps;
  std::vector<InstanceRecord> instances;
  std::vector<std::string> removed_hosts;  // ids
  std::vector<std::string> removed_apps;   // names
  std::vector<std::string> removed_instances;
  bool has_refused_hosts = false;  // refused_hosts replaces the reader's list
  std::vector<RefusedHost> refused_hosts;
  MSGPACK_DEFINE_MAP(stream, number, revision, hosts, apps, instances, removed_hosts, removed_apps, removed_instances,
                     has_refused_hosts, refused_hosts);
};

// ---------------------------------------------------------------------------------------------
// Agents (topics agent.heartbeat.<host>, agent.sample.<host>).

struct InstanceStatus {
  std::string id;
  std::string app;
  std::string state;  // states::instance: starting | running | failed | draining (an agent reports no other)
  std::string ip;
  int pid = 0;
  int exit_code = 0;
  int restarts = 0;
  std::string reason;
  // With state `failed`: the host's runtime could not start it (image pull, create, spawn), as opposed
  // to the app exiting by itself. The registry then places it on another host.
  bool host_fault = false;
  MSGPACK_DEFINE_MAP(id, app, state, ip, pid, exit_code, restarts, reason, host_fault);
};

// Registration and heartbeat in one: the agent's full status, every interval.
struct HostStatus {
  std::string host_id;
  std::string hostname;
  std::string address;
  int cpus = 0;
  int64_t memory_bytes = 0;
  std::string runtime;
  std::string haproxy_socket;
  int stats_port = 0;
  int64_t started_ms = 0;
  std::vector<InstanceStatus> instances;
  LbStatus lb;
  OverlayInfo overlay;
  std::vector<PeerReach> peers;
  // This agent renders its haproxy.cfg from lb.spec: lbgen renders no lb.config.<host> for it.
  bool renders_lb = false;
  MSGPACK_DEFINE_MAP(host_id, hostname, address, cpus, memory_bytes, runtime, haproxy_socket, stats_port, started_ms,
                     instances, lb, overlay, peers, renders_lb);
};

struct InstanceSample {
  std::string id;
  std::string app;
  double cpu_percent = 0;  // of one core
  int64_t rss_bytes = 0;
  MSGPACK_DEFINE_MAP(id, app, cpu_percent, rss_bytes);
};

// Requests that this host's HAProxy sent to one instance (all the app's backends, the fail-open
// twin included), from its stats.
struct ServerRequestSample {
  std::string instance;
  double requests_per_second = 0;  // since the previous sample
  int64_t current_sessions = 0;
  int64_t responses_5xx = 0;  // cumulative since the HAProxy worker started
  MSGPACK_DEFINE_MAP(instance, requests_per_second, current_sessions, responses_5xx);
};

// Requests to one app through this host's HAProxy: rates and sessions from its stats (`show stat`),
// latency from its request log over the sample interval.
struct AppRequestSample {
  std::string app;
  double requests_per_second = 0;  // since the previous sample
  int64_t current_sessions = 0;
  int64_t responses_5xx = 0;    // cumulative since the HAProxy worker started
  double avg_response_ms = 0;   // HAProxy's rtime: average over its last 1024 responses
  double p95_latency_ms = 0;    // of the requests logged since the previous sample (%Ta)
  int64_t latency_samples = 0;  // how many requests the p95 comes from; 0: no p95
  std::vector<ServerRequestSample> servers;
  MSGPACK_DEFINE_MAP(app, requests_per_second, current_sessions, responses_5xx, avg_response_ms, p95_latency_ms,
                     latency_samples, servers);
};

struct HostSample {
  std::string host_id;
  int64_t time_ms = 0;
  double cpu_percent = 0;  // whole host, 0-100
  int64_t memory_used_bytes = 0;
  int64_t memory_total_bytes = 0;
  double load1 = 0;
  std::vector<InstanceSample> instances;
  std::vector<AppRequestSample> apps;  // per app, as this host's HAProxy sees it
  MSGPACK_DEFINE_MAP(host_id, time_ms, cpu_percent, memory_used_bytes, memory_total_bytes, load1, instances, apps);
};

// ---------------------------------------------------------------------------------------------
// Load balancer (topics lb.config.<host>, lb.spec, lb.resync.<host>): what HAProxy on each host should run.

// Fail-open: every server `<name>` of a backend has a twin `<name>_failopen` (same address, `backup`, no
// check) in the HAProxy config, so that when every checked server is down HAProxy still tries them
// all (`option allbackups`). lbgen renders the twins and the agent adds and deletes them at run time.
inline constexpr char kFailOpenSuffix[] = "_failopen";

struct LbServer {
  std::string name;     // instance id
  std::string address;  // instance IP
  int port = 0;
  MSGPACK_DEFINE_MAP(name, address, port);
};

struct LbBackend {
  std::string name;  // "app_<app>_<internal port>"
  std::string app;
  std::string mode;  // http | tcp
  std::string algorithm;
  std::vector<LbServer> servers;
  std::string health_path = "/";  // http: the check's GET path (tcp backends check a connect)
  int check_rise = 2;
  int check_fall = 3;
  int check_inter_ms = 2000;
  // Between the checks of a server on its way up or down (HAProxy's fastinter): a new server takes traffic
  // rise x this after its first passed check rather than rise x check_inter_ms. 0: check_inter_ms.
  int check_fastinter_ms = 0;
  bool proxy_protocol = false;  // servers get `send-proxy-v2`
  // The app needs a p95 latency (its autoscale policy targets p95_latency_ms): the agent has the
  // frontends routing to it log each request (it costs throughput, so only then).
  bool request_log = false;
  MSGPACK_DEFINE_MAP(name, app, mode, algorithm, servers, health_path, check_rise, check_fall, check_inter_ms,
                     proxy_protocol, request_log, check_fastinter_ms);
};

struct LbRoute {
  std::string context_path;  // "/" matches everything not matched by a longer path
  std::string backend;
  MSGPACK_DEFINE_MAP(context_path, backend);
};

struct LbFrontend {
  std::string name;  // "fe_<port>"
  int port = 0;
  std::string mode;             // http | tcp
  std::vector<LbRoute> routes;  // longest context path first; tcp: exactly one with "/"
  MSGPACK_DEFINE_MAP(name, port, mode, routes);
};

struct LbSpec {
  std::string host_id;
  std::string bind_address;
  std::string stats_socket;
  int stats_port = 0;
  std::vector<LbFrontend> frontends;
  std::vector<LbBackend> backends;
  MSGPACK_DEFINE_MAP(host_id, bind_address, stats_socket, stats_port, frontends, backends);
};

struct LbConfig {
  std::string host_id;
  int64_t state_revision = 0;
  std::string hash;         // hex SHA-256... of haproxy_cfg (see lbgen)
  std::string haproxy_cfg;  // the rendered configuration
  LbSpec spec;
  MSGPACK_DEFINE_MAP(host_id, state_revision, hash, haproxy_cfg, spec);
};

// The load balancer spec every host shares (topic lb.spec, common/lb_fleet.h): the frontends and backends
// of an LbSpec, which are the same on every host, and the template to render them with; each agent adds
// its own bind address and stats settings and renders its haproxy.cfg itself. Published as numbered
// changes, the Clone pattern: an update applies to the spec whose hash is `base`; a reader holding
// another spec (it missed one) asks for the whole on lb.resync.<host>.
struct LbSpecBackend {
  std::string digest;  // lb::backend_digest of `backend`, as lbgen computed it
  LbBackend backend;
  MSGPACK_DEFINE_MAP(digest, backend);
};

struct LbSpecUpdate {
  int64_t state_revision = 0;  // the state lbgen built this spec from
  std::string base;            // hash of the spec this update applies to; empty: a whole spec, replacing any
  std::string hash;            // lb::fleet_hash of the spec once applied
  // The frontends replace the reader's when set (always in a whole spec): they change only with the
  // apps' ports and paths, not with their instances.
  bool has_frontends = false;
  std::vector<LbFrontend> frontends;
  std::string frontends_digest;
  std::vector<LbSpecBackend> backends;  // whole: every backend; else those new or changed
  std::vector<std::string> removed;     // backends gone (by name)
  std::string template_hash;            // of the template the spec is rendered with (common/hash.h)
  std::string template_text;            // whole specs only
  MSGPACK_DEFINE_MAP(state_revision, base, hash, has_frontends, frontends, frontends_digest, backends, removed,
                     template_hash, template_text);
};

// An agent asks lbgen for the whole spec (topic lb.resync.<host>): it has none yet, or an update did
// not apply to what it has. lbgen answers on lb.spec (at most one whole spec every few hundred ms).
struct LbSpecRequest {
  std::string host_id;
  std::string have;    // hash of the spec it holds, empty for none
  std::string reason;  // "start" | "gap" | "mismatch"
  MSGPACK_DEFINE_MAP(host_id, have, reason);
};

// ---------------------------------------------------------------------------------------------
// Metrics (topics metrics.*), published by pier-metrics for any subscriber.

// Per-app aggregates (metrics.app.<app>), every autoscale interval. A figure not measured is -1.
struct AppMetrics {
  std::string app;
  int64_t time_ms = 0;              // pier-metrics' wall clock when the figures were last updated
  int instances = 0;                // instances whose fresh samples made these figures
  double cpu_percent = -1;          // average per instance, % of one core
  double requests_per_second = -1;  // whole app, summed over every host's HAProxy
  double p95_latency_ms = -1;       // the highest of the hosts' p95 (see services/metrics/README.md)
  int replicas = 0;                 // wanted, from the state
  int running = 0;                  // instances running, from the state
  MSGPACK_DEFINE_MAP(app, time_ms, instances, cpu_percent, requests_per_second, p95_latency_ms, replicas, running);
};

// One autoscaler decision (metrics.decision.<app>): a change, or a hold whose rule differs from the
// app's previous decision.
struct AutoscaleDecision {
  std::string app;
  int64_t time_ms = 0;
  int current = 0;                       // replicas when deciding
  int desired = 0;                       // == current: hold
  std::string rule;                      // floor, ceiling, schedule, stale, steady, up-window, ...
  std::map<std::string, double> inputs;  // the numbers used, by name
  std::string explanation;
  MSGPACK_DEFINE_MAP(app, time_ms, current, desired, rule, inputs, explanation);
};

}  // namespace pier::msg
