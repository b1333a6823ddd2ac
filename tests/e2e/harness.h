// Whole-stack test harness: runs `pier dev` on OS-chosen ports in a temporary state directory, runs
// the `pier` CLI against it, and sends requests through the HAProxy it runs. Every wait has a
// deadline.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "bench/loadgen/loadgen.h"
#include "common/bus.h"
#include "tests/support/free_port.h"
#include "tests/support/temp_dir.h"

namespace pier::e2e {

using test_support::free_port;

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout
  std::string error;   // stderr
};

// Polls `condition` every 100 ms until it holds or `timeout` passes; returns whether it held.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout);
// Milliseconds since `start` on the steady clock.
int64_t ms_since(std::chrono::steady_clock::time_point start);
// The load most tests send through HAProxy while they change things: 2 keep-alive and 2 new-connection
// workers at `per_worker` req/s each (400 req/s by default, leaving the 2 cores to the stack), bounded
// by `max_ms` (the test stops it sooner).
loadgen::Options steady_load(int port, double per_worker = 100, int64_t max_ms = 600'000);
// Load that holds both cores busy: 12 keep-alive and 12 new-connection workers, unpaced (each sends its
// next request as soon as the answer came), bounded by `max_ms` (the test stops it sooner).
loadgen::Options saturating_load(int port, int64_t max_ms);

// One GET through HAProxy on 127.0.0.1:port; nullopt when the connection fails.
struct HttpAnswer {
  int status = 0;
  std::string body;
};
std::optional<HttpAnswer> http_get(int port, const std::string& path);
// Instance ids that answered `count` GETs of `path` on `port` (the demo app's "instance=" field);
// a failed request counts as "<failed STATUS>".
std::multiset<std::string> answers(int port, const std::string& path, int count);
std::set<std::string> distinct(const std::multiset<std::string>& all);
// `pier deploy` of the demo app (exec runtime: command pier-demo-app) on port:8000, waiting up to 60 s.
std::vector<std::string> deploy_args(const std::string& name, int port, int replicas,
                                     const std::string& context_path = "/");
// The ids of an app's instances in `pier ps --output json`.
std::set<std::string> instance_ids(const nlohmann::json& ps, const std::string& app);
// The same without those draining (on their way out: a scale is live before they have stopped).
std::set<std::string> not_draining(const nlohmann::json& ps, const std::string& app);
// Processes whose environment holds PIER_APP=<app> (the exec runtime sets it on every instance): the
// runtime's own count, independent of what pier reports.
int processes_of_app(const std::string& app);
// A host's status ("up", "down") in `pier hosts --output json`, "" when absent.
std::string host_status(const nlohmann::json& hosts, const std::string& id);
// Instance id -> host of an app's instances in `pier ps`; `all_running` says whether every one runs.
std::map<std::string, std::string> placement(const nlohmann::json& ps, const std::string& app,
                                             bool* all_running = nullptr);
std::string read_file(const std::string& path);
// The pid in a pid file, 0 when there is none.
pid_t read_pid(const std::string& path);
// One "[ fault ] ..." line per fault (bench/faults/run.sh makes the results table from them): requests
// sent through HAProxy while it happened, how many failed, the time until converged again.
void report_fault(const std::string& fault, int64_t sent, int64_t failed, int64_t converged_ms,
                  const std::string& notes);
// Sends `text` over a new TCP connection and returns what comes back (up to `expect` bytes; default
// text.size()).
std::optional<std::string> tcp_echo(int port, const std::string& text, std::size_t expect = 0);

class Stack {
 public:
  // `extra` goes to `pier dev` after the port and state-dir flags (e.g. {"--demo", ...}).
  explicit Stack(const std::vector<std::string>& extra = {});
  ~Stack();
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  // Runs `pier <args...>` against this stack.
  CommandResult pier(const std::vector<std::string>& args, int timeout_s = 90) const;
  nlohmann::json ps() const;     // `pier ps --output json`
  nlohmann::json hosts() const;  // `pier hosts --output json`
  // Waits (30 s at most) until `pier hosts` lists exactly `count` hosts, all up.
  bool wait_for_hosts(std::size_t count = 1) const;
  pid_t child_pid(const std::string& name) const;  // from <state>/pids/<name>.pid, 0 if unknown
  const std::string& state_dir() const { return dir_.path(); }
  const std::string& bus_pub() const { return env_.at("PIER_BUS_PUB"); }
  std::string log(const std::string& name) const;  // a child's log file
  std::string dev_output() const;                  // what `pier dev` printed
  // A variable from <state>/dev.env once `pier dev` has written it, else "".
  std::string dev_env(const std::string& name) const;
  // The bus as the operator reaches it (dev.env's endpoints and pier dev's operator key), for tests
  // that read the bus themselves.
  bus::Endpoints bus_endpoints() const;

 private:
  testing::TempDir dir_;  // the state folder: kept with PIER_E2E_KEEP
  pid_t dev_ = 0;
  std::map<std::string, std::string> env_;
};

// A second host: a pier-agent of its own (host id "second"), with its own state directory under `dir`,
// its HAProxy on 127.0.0.2, on the bus of `stack`. Stopped (agent, instances, HAProxy) when destroyed.
class SecondHost {
 public:
  SecondHost(const Stack& stack, std::string dir);
  ~SecondHost();
  SecondHost(const SecondHost&) = delete;
  SecondHost& operator=(const SecondHost&) = delete;

  bool start();
  // The whole host vanishes: the agent, every instance (each in its own process group) and HAProxy.
  void kill_everything();
  pid_t agent_pid() const { return pid_; }  // 0 when not running
  int killed_instances() const { return killed_instances_; }
  std::string log() const;  // the log of the agent's latest start

 private:
  void kill_instances_and_haproxy();

  std::string dir_;
  int stats_port_;
  std::vector<std::string> argv_;
  pid_t pid_ = 0;
  int starts_ = 0;
  int killed_instances_ = 0;
};

}  // namespace pier::e2e
