// A fleet of pier hosts in network namespaces on one machine, for the fleet tests and bench/fleet.
//
//   lan1 (bridge)  router 10.77.1.1 | control .10 | h1 .11 | h2 .12 | client .100       10.77.1.0/24
//   lan2 (bridge)  router 10.77.2.1 | h3 .13                                             10.77.2.0/24
//   h2 10.77.9.1 <-> client2 10.77.9.2 (a veth of their own, so client2 reaches h2 while h2 is cut off)
//
// Every namespace is named "pf<pid>-<n>-<role>" (the pid of the process that made it): a run removes
// what earlier runs left behind when their process is gone. Nothing is made or changed in the root
// namespace: each veth is created inside a namespace with its peer in another. Every wait has a deadline.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "bench/loadgen/loadgen.h"
#include "common/status.h"
#include "tests/e2e/harness.h"
#include "tests/support/temp_dir.h"

namespace pier::fleet {

using e2e::CommandResult;
using e2e::ms_since;
using e2e::wait_until;

// The address plan.
inline constexpr const char* kLan1Prefix = "10.77.1.0/24";
inline constexpr const char* kLan2Prefix = "10.77.2.0/24";
inline constexpr const char* kRouterLan1 = "10.77.1.1";
inline constexpr const char* kRouterLan2 = "10.77.2.1";
inline constexpr const char* kControlAddress = "10.77.1.10";
inline constexpr const char* kClientAddress = "10.77.1.100";
inline constexpr const char* kClient2Address = "10.77.9.2";     // on the /30 to h2
inline constexpr const char* kH2SideAddress = "10.77.9.1";      // h2's end of that /30
inline constexpr const char* kRoutedNetwork = "10.224.0.0/12";  // pier-registry's --routed-network default
inline constexpr int kBusPubPort = 7701;
inline constexpr int kBusSubPort = 7702;
inline constexpr int kMetricsPort = 9100;
inline constexpr int kStatsPort = 8404;
inline constexpr int kHostDownAfterMs = 2000;

// The hosts pier runs on, in order.
const std::vector<std::string>& host_ids();  // {"h1", "h2", "h3"}
// A role's address on its LAN ("h1" -> 10.77.1.11, "client2" -> 10.77.9.2); "" for lan1, lan2.
std::string address_of(const std::string& role);
// "lan1" or "lan2": the LAN a host, control, client or the router's first leg is on.
std::string lan_of(const std::string& role);

// A host's record in `pier hosts --output json`, null when absent.
nlohmann::json host_record(const nlohmann::json& hosts, const std::string& id);
// What a host's HAProxy lists of an app and its own checks find up (its lb.apps entry: listed, up,
// digest, down), null when it lists none of the app's servers.
nlohmann::json lb_app(const nlohmann::json& hosts, const std::string& id, const std::string& app);
// Whether every host in `ids` reports every other one as reachable through the overlay (peers[]).
bool peers_reachable(const nlohmann::json& hosts, const std::vector<std::string>& ids);
// Instance id -> ip of an app's instances that are not draining.
std::map<std::string, std::string> instance_ips(const nlohmann::json& ps, const std::string& app);
// Whether IPv4 `ip` lies in `cidr` ("10.212.3.0/24").
bool in_subnet(const std::string& ip, const std::string& cidr);
// Instance ids of an app that are running (not draining) on `host`.
std::set<std::string> running_on(const nlohmann::json& ps, const std::string& app, const std::string& host);
// The instance id in a demo-app answer ("... instance=<id> ..."), "" when there is none.
std::string instance_in(const std::string& body);
// One "[ fleet ] ..." line.
void report(const std::string& line);

class Fleet {
 public:
  // Removes what dead earlier runs left, then makes the namespaces, links and addresses above.
  static Result<std::unique_ptr<Fleet>> create();
  // Kills every process in every namespace of this fleet, then deletes the namespaces and the state
  // folder (logs: kept with PIER_FLEET_KEEP=1 until the next run's remove_stale; namespaces go anyway).
  ~Fleet();
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // Namespaces whose owner process is gone, and their processes, and /tmp/pier-fleet-<pid>-* folders.
  static void remove_stale();

  // The namespace of a role: lan1, lan2, router, control, h1, h2, h3, client, client2.
  std::string ns(const std::string& role) const;
  const std::string& dir() const { return dir_->path(); }  // state folder of this fleet (logs, state dirs)

  // Starts argv in the namespace (`ip netns exec`, which then execs it: the pid is the program's), in a
  // process group of its own, stdout and stderr appended to log_path, env added to this environment.
  pid_t run_in(const std::string& role, const std::vector<std::string>& argv, const std::string& log_path,
               const std::map<std::string, std::string>& env = {});
  // Runs argv in the namespace to completion (killed after timeout_ms).
  CommandResult exec_in(const std::string& role, const std::vector<std::string>& argv, int timeout_ms = 10'000,
                        const std::map<std::string, std::string>& env = {});
  // `ip -n <ns> <args...>`, to completion; throws std::runtime_error when it fails.
  std::string ip(const std::string& role, const std::vector<std::string>& args) const;
  // Runs fn on a thread that entered the namespace: sockets it and the threads it starts make belong
  // there. Returns an error when the namespace cannot be entered; an exception from fn is rethrown.
  Status in_ns(const std::string& role, const std::function<void()>& fn) const;
  // Pids of the processes whose network namespace is this role's (as `ip netns pids`), but this one.
  std::vector<pid_t> pids_in(const std::string& role) const;
  // Processes in the role's namespace whose environment holds PIER_APP=<app> (the exec runtime's).
  int processes_of_app(const std::string& role, const std::string& app) const;

  // A host's port on its LAN's bridge goes down (both directions cut) / up again.
  void cut_link(const std::string& host);
  void heal_link(const std::string& host);
  // SIGKILLs every process in the host's namespace (agent, HAProxy, instances); returns how many.
  int kill_host(const std::string& host);

  // pier-bus, pier-registry, pier-scheduler, pier-lbgen, pier-metrics in `control`; extra_registry goes
  // to pier-registry's command line. Returns once the bus accepts connections (or false after 15 s).
  bool start_control(const std::vector<std::string>& extra_registry = {});
  // pier-agent in the host's namespace (`--runtime <runtime>`, `--overlay <overlay>` unless empty), with `extra` flags.
  bool start_agent(const std::string& host, const std::string& overlay = "vxlan",
                   const std::vector<std::string>& extra = {}, const std::string& runtime = "exec");
  // SIGINT to the host's agent, waiting up to 15 s; its instances and HAProxy keep running unless the
  // agent was started with --stop-on-exit.
  void stop_agent(const std::string& host);
  std::string agent_log(const std::string& host) const;

  // `pier <args...>` in the control namespace against this fleet's bus.
  CommandResult pier(const std::vector<std::string>& args, int timeout_s = 90);
  nlohmann::json ps();     // `pier ps --output json`, null on failure
  nlohmann::json hosts();  // `pier hosts --output json`, null on failure
  // Waits until `pier hosts` lists every one of `ids`, all up.
  bool wait_for_hosts(const std::vector<std::string>& ids, std::chrono::milliseconds timeout);

  // Loads from a role's namespace with the generator's own threads; stop() or wait() it.
  std::unique_ptr<loadgen::LoadGenerator> start_load(const std::string& role, const loadgen::Options& options) const;
  // One GET from a role's namespace; nullopt when the connection fails.
  std::optional<e2e::HttpAnswer> http_get(const std::string& role, const std::string& host, int port,
                                          const std::string& path = "/") const;
  // Instance ids that answered `count` GETs from a role's namespace (each waiting up to read_timeout_s
  // for its answer); a failure counts as "<failed N>".
  std::multiset<std::string> answers(const std::string& role, const std::string& host, int port, int count,
                                     const std::string& path = "/", int read_timeout_s = 5) const;
  // Sends text over a new TCP connection from a role's namespace and returns what came back.
  std::optional<std::string> tcp_echo(const std::string& role, const std::string& host, int port,
                                      const std::string& text) const;
  // Whether a TCP connect from a role's namespace to host:port succeeds within timeout_ms.
  bool tcp_connects(const std::string& role, const std::string& host, int port, int timeout_ms = 1000) const;

 private:
  Fleet() = default;
  Status build();
  void kill_all_in(const std::string& role);
  std::string bin(const std::string& program) const;
  std::map<std::string, std::string> pier_env() const;
  // Where start_control makes the fleet's keys (the bus's, each service's, each host's, operator).
  std::string keys_dir() const;
  // `argv` with the flags that make it speak CURVE to the bus with the key named `key`.
  std::vector<std::string> keyed(std::vector<std::string> argv, const std::string& key) const;

  std::string prefix_;                   // "pf<pid>-<n>-"
  std::optional<testing::TempDir> dir_;  // made by build()
  std::vector<std::string> made_;        // namespaces made, in order
  std::vector<pid_t> children_;          // what run_in started, to reap
  std::map<std::string, pid_t> agents_;
  std::map<std::string, int> agent_starts_;
  int commands_ = 0;
};

}  // namespace pier::fleet
