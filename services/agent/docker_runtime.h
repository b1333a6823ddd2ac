// The docker runtime: each instance is a container made through the Docker Engine API, on one bridge
// network per host whose subnet the registry assigned, with the instance's IP given explicitly, CPU and
// memory limits, the app's environment plus PORT/HOST/PIER_*, and labels marking it as pier's.
//
// Containers are named "pier-<host id>-<instance id>" and labelled pier.host=<host id>, so a new DockerRuntime
// adopts the running ones of its host (none restarted) and reports the ones gone behind its back.
#pragma once

#include <future>
#include <map>
#include <optional>
#include <string>

#include "common/clock.h"
#include "services/agent/docker_engine.h"
#include "services/agent/runtime.h"

namespace pier::agent {

// Labels on every container pier makes.
inline constexpr const char* kLabelHost = "pier.host";
inline constexpr const char* kLabelApp = "pier.app";
inline constexpr const char* kLabelInstance = "pier.instance";
inline constexpr const char* kLabelRevision = "pier.revision";
inline constexpr const char* kLabelIp = "pier.ip";
inline constexpr const char* kLabelPort = "pier.port";

class DockerRuntime final : public Runtime {
 public:
  // Adopts the running containers labelled for this host; removes the exited ones.
  DockerRuntime(DockerEngine& engine, std::string host_id, const Clock& clock);
  ~DockerRuntime() override;  // waits for starts still under way

  std::string kind() const override { return "docker"; }
  // Returns 0 at once: the container is made in the background; poll() reports a failure.
  Result<pid_t> start(const InstanceSpec& spec) override;
  void stop(const std::string& id, int grace_ms) override;
  std::vector<InstanceExit> poll() override;
  std::vector<RunningInstance> list() const override;

  std::string network_name() const { return "pier-" + host_id_; }
  // The MTU of the host's bridge network when it is created (an overlay's; 0: docker's default). Set
  // before the first start.
  void set_network_mtu(int mtu) { network_mtu_ = mtu; }
  // Makes the host's bridge network for `subnet` unless it exists (the first start does it too). On an
  // overlay the agent calls it once the host has a subnet: the bridge holds the subnet's first address,
  // where peers' checks come, before any container runs. Touches no member: any thread may call it.
  Status ensure_host_network(const std::string& subnet) const;
  // Names are global to a daemon: the host id keeps two agents (two stacks) on one daemon apart.
  std::string container_name(const std::string& id) const { return "pier-" + host_id_ + "-" + id; }
  // The body of POST /containers/create for this instance on `network`.
  static nlohmann::json container_config(const InstanceSpec& spec, const std::string& host_id,
                                         const std::string& network);
  // The last non-empty line of a container's log stream (Docker's multiplexed framing).
  static std::string last_log_line(const std::string& multiplexed);

 private:
  struct Started {
    std::string container_id;
    pid_t pid = 0;
  };
  struct Container {
    RunningInstance instance;
    std::string container_id;
    int64_t kill_at_ms = -1;  // SIGKILL due then (steady clock); -1: not stopping
    // Set while the container is being made (image, create, start) on a thread of its own, so that
    // ten instances start side by side rather than one after the other.
    std::future<Result<Started>> starting;
  };
  void adopt();
  // Image, create and start: runs on a background thread, touches only the engine.
  Result<Started> make_and_start(const InstanceSpec& spec) const;
  // Takes a finished background start into the container's record; returns the exit when it failed.
  std::optional<InstanceExit> settle(const std::string& id, Container& container);
  InstanceExit finish(const std::string& id, const Container& container, bool gone);

  DockerEngine& engine_;
  std::string host_id_;
  const Clock& clock_;
  std::string network_subnet_;  // the subnet the host network was last made with
  int network_mtu_ = 0;
  std::map<std::string, Container> containers_;
};

}  // namespace pier::agent
