// How the agent runs instances: one small interface, one implementation per reality (exec today,
// docker later). The reconciler knows only this interface.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace pier::agent {

// Everything a runtime needs to start one instance.
struct InstanceSpec {
  std::string id;
  std::string app;
  std::string ip;
  int port = 0;                            // the app's first internal port (PORT in the environment)
  std::vector<std::string> command;        // argv, no shell
  std::map<std::string, std::string> env;  // the app's own variables
  int64_t revision = 0;                    // AppRecord.revision the spec comes from
  // For the docker runtime: the image, the limits and the host's subnet (its bridge network).
  std::string image;
  std::string tag;
  double cpu = 0;
  int64_t memory_bytes = 0;
  std::string subnet;
  int64_t drain_timeout_ms = 30'000;  // AppSpec.drain_timeout_ms: the longest wait before a stop
  std::string health_path;            // http apps: it is ready once GET health_path answers 2xx/3xx

  // Whether an instance started from `other` can keep running for this spec: command and env only
  // change with the revision, so revision, address and port decide.
  bool same_as(const InstanceSpec& other) const {
    return revision == other.revision && ip == other.ip && port == other.port && app == other.app;
  }
};

// An instance the runtime runs now (started by this agent or adopted from a previous one).
struct RunningInstance {
  InstanceSpec spec;  // for adopted instances: id, app, ip, port and revision as they were started
  pid_t pid = 0;
  bool adopted = false;
};

// An instance that is no longer running.
struct InstanceExit {
  std::string id;
  int code = 0;             // exit code, 128 + signal, or -1 when unknown (adopted, not our child)
  std::string last_output;  // last non-empty line the instance wrote, for the failure reason
  bool stopped = false;     // it exited because stop() asked it to
  std::string failure;      // set when it never started (a runtime that starts in the background): why
};

class Runtime {
 public:
  virtual ~Runtime() = default;
  virtual std::string kind() const = 0;
  // Starts the instance; returns its pid, or 0 when the start goes on in the background (its failure
  // then comes from poll() as an exit with `failure` set). An instance with this id must not be running.
  virtual Result<pid_t> start(const InstanceSpec& spec) = 0;
  // Asks the instance to stop (SIGTERM); it is killed when still running grace_ms later. Returns at
  // once: the exit is reported by poll().
  virtual void stop(const std::string& id, int grace_ms) = 0;
  // The instances that exited since the last call (and finishes stops whose grace has passed).
  virtual std::vector<InstanceExit> poll() = 0;
  // What runs now.
  virtual std::vector<RunningInstance> list() const = 0;
};

}  // namespace pier::agent
