// The exec runtime: each instance is a child process started from the app's command (no shell), in
// its own process group, bound to its own loopback IP through HOST and PORT in its environment.
//
// Files under <state-dir>/instances/: <id>.log (stdout and stderr, appended) and <id>.pid. A new
// ExecRuntime adopts the instances whose pid file points at a live process whose environment says
// PIER_INSTANCE=<id>, so a restarted agent takes over what runs instead of starting duplicates.
#pragma once

#include <map>
#include <string>

#include "common/clock.h"
#include "services/agent/runtime.h"

namespace pier::agent {

class ExecRuntime final : public Runtime {
 public:
  // Creates <state_dir>/instances and adopts what its pid files describe.
  ExecRuntime(std::string state_dir, std::string host_id, const Clock& clock);

  std::string kind() const override { return "exec"; }
  Result<pid_t> start(const InstanceSpec& spec) override;
  void stop(const std::string& id, int grace_ms) override;
  std::vector<InstanceExit> poll() override;
  std::vector<RunningInstance> list() const override;

  std::string log_path(const std::string& id) const;
  std::string pid_path(const std::string& id) const;
  // The environment an instance gets on top of the agent's: spec.env, PORT, HOST, PIER_INSTANCE,
  // PIER_APP, PIER_HOST_ID, PIER_REVISION.
  std::map<std::string, std::string> environment(const InstanceSpec& spec) const;

 private:
  struct Child {
    RunningInstance instance;
    int64_t kill_at_ms = -1;  // SIGKILL due then (steady clock); -1: not stopping
  };
  void adopt();
  void signal(const Child& child, int sig) const;

  std::string dir_;
  std::string host_id_;
  const Clock& clock_;
  std::map<std::string, Child> children_;
};

// Environment variables of a process from /proc/<pid>/environ (empty when unreadable).
std::map<std::string, std::string> process_environment(pid_t pid);
// The last non-empty line of a file, read from its last few KiB and cut to max_chars.
std::string last_line(const std::string& path, std::size_t max_chars = 300);
// argv[0] as given when it contains '/' or is found in PATH; else the file of that name beside this
// executable (so `pier dev` finds pier-demo-app next to pier-agent); else as given.
std::string resolve_program(const std::string& name);

}  // namespace pier::agent
