// Starting and stopping child processes (exec runtime, `pier dev`, end-to-end tests).
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace pier::process {

struct SpawnOptions {
  std::vector<std::string> argv;           // argv[0] is looked up in PATH
  std::map<std::string, std::string> env;  // added to (or replacing in) this process's environment
  std::string output_path;                 // stdout (and stderr, unless error_path) appended here; empty: inherit
  std::string error_path;                  // stderr appended here when set
  bool new_process_group = true;           // so that a terminal's Ctrl-C reaches only the parent
};

Result<pid_t> spawn(const SpawnOptions& options);

// The exit status of a finished child: its exit code, or 128 + signal. nullopt while it runs.
std::optional<int> try_wait(pid_t pid);
// Blocks until the child exits; returns as try_wait.
int wait(pid_t pid);
// Sends SIGTERM, waits up to grace_ms for the child to exit, then SIGKILLs it. Returns as try_wait.
int stop(pid_t pid, int grace_ms);
// Whether a process with this pid exists (any parent).
bool exists(pid_t pid);

}  // namespace pier::process
