// Supervision of the one HAProxy that serves this host, as operations that are states, not waits: the
// haproxy worker's loop begins one (a `haproxy -c` check, a start, a reload, a stop) and steps it each
// turn, so that nothing in that loop waits on HAProxy, and every timeout is read off the Clock it is
// given (tests move a ManualClock; haproxy_master_test.cpp drives a HAProxy that loads for seconds).
//
// - ConfigCheck: one `haproxy -c -f FILE` at a time; poll() says Ok or why HAProxy refused, once it
//   exited or its time ran out.
// - HaproxyMaster: the master-worker process (`-W`): start() and reload() (SIGUSR2) begin a load that
//   step() follows in its log until "Loading success." or "Loading failure!"; stop() begins SIGTERM
//   then SIGKILL after the grace. A master the agent did not start (a previous agent's) is adopted.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/status.h"

namespace pier::agent {

// The lines of haproxy's output that explain a refusal ([ALERT] first), in one line of bounded size;
// `fallback` when it printed nothing.
std::string explain_haproxy_output(const std::string& output, const std::string& fallback);

class ConfigCheck {
 public:
  ConfigCheck(std::string haproxy, std::string output_path, int timeout_ms, const Clock& clock);
  ~ConfigCheck() { cancel(); }
  ConfigCheck(const ConfigCheck&) = delete;
  ConfigCheck& operator=(const ConfigCheck&) = delete;

  // Starts `haproxy -c -f path` (ending a check still running). An error when it cannot be started.
  Status begin(const std::string& path);
  bool running() const { return pid_ > 0; }
  // nullopt while the check runs (or none was begun); once it ended: Ok, or the lines that explain
  // the refusal, or that it did not finish within timeout_ms (it is then killed).
  std::optional<Status> poll();
  void cancel();

 private:
  std::string haproxy_;
  std::string output_path_;
  int timeout_ms_;
  const Clock& clock_;
  pid_t pid_ = 0;
  int64_t deadline_ms_ = 0;
};

struct HaproxyMasterOptions {
  std::string haproxy = "haproxy";
  std::string config_path;
  std::string pid_path;
  std::string log_path;  // the master's output: where step() reads how a load went
  int load_timeout_ms = 10'000;
  int stop_grace_ms = 3000;
  int resend_ms = 1000;  // a SIGUSR2 whose reload the master did not start within this is sent again
};

class HaproxyMaster {
 public:
  enum class Operation { none, start, reload, stop };

  HaproxyMaster(HaproxyMasterOptions options, const Clock& clock);

  // Takes `pid` as the master when it is a live HAProxy running config_path (a previous agent's).
  bool adopt(pid_t pid);
  // Starts a master on config_path (none may run). An error when it cannot be spawned; else the load
  // goes on in step().
  Status start();
  // Asks the running master to load config_path again (SIGUSR2); the load goes on in step().
  void reload();
  // Asks the master to stop (SIGTERM, SIGKILL after stop_grace_ms); step() ends it.
  void stop();
  // Moves the operation in progress on. When it ended at this step, its outcome: Ok, or why the load
  // failed (a start that failed leaves no master; a reload that failed leaves the previous workers).
  std::optional<Status> step();

  Operation operation() const { return operation_; }
  bool busy() const { return operation_ != Operation::none; }
  // Whether the master runs (an exited child is reaped and forgotten).
  bool alive();
  pid_t pid() const { return pid_; }
  bool adopted() const { return adopted_; }
  // Forgets a master that exited (its workers' group is killed, so none lingers on the ports).
  void forget();

 private:
  std::uintmax_t log_size() const;
  std::optional<Status> step_load();
  std::optional<Status> step_stop();
  std::optional<Status> end(Status outcome);

  HaproxyMasterOptions options_;
  const Clock& clock_;
  pid_t pid_ = 0;
  bool adopted_ = false;  // not our child: its exit is read from /proc, not waitpid
  bool exited_ = false;   // our child exited and was reaped
  Operation operation_ = Operation::none;
  std::uintmax_t log_offset_ = 0;  // where the current load's output begins
  int64_t deadline_ms_ = 0;
  int64_t resend_at_ms_ = 0;
};

// Whether pid is a live HAProxy whose command line names config_path. Blocks up to 200 ms while the
// process is between two executions (its command line empty): used once, when an agent starts.
bool is_haproxy_for(pid_t pid, const std::string& config_path);

}  // namespace pier::agent
