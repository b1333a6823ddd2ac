// A small client of the Docker Engine API over its unix socket (libcurl, HTTP/1.1). It speaks a fixed
// API version, so it works with any daemon that still serves that version, whatever docker CLI is on
// PATH. Every call returns errors as values carrying the daemon's own message.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "services/agent/docker_json.h"

namespace pier::agent {

struct EngineResponse {
  long status = 0;
  std::string body;
};

class DockerEngine {
 public:
  // API 1.41 is Docker 20.10's (Debian 12's docker.io); newer daemons still serve it.
  explicit DockerEngine(std::string socket_path = "/var/run/docker.sock", std::string api_version = "v1.41");

  // One request; `body` is sent as JSON when not null. Fails only when the daemon cannot be reached.
  Result<EngineResponse> request(const std::string& method, const std::string& path,
                                 const nlohmann::json& body = nullptr, long timeout_ms = 30'000) const;

  Status ping() const;
  Result<bool> image_exists(const std::string& reference) const;
  // Pulls image:tag; the daemon's error (registry unreachable, unknown image) comes back as the message.
  Status pull(const std::string& image, const std::string& tag) const;
  // Creates a bridge network with this subnet unless one with this name exists. A network of that name
  // on another subnet is replaced when no container uses it, else an error that says so. mtu > 0: the
  // bridge's MTU (an overlay's, 50 below the underlay's for VXLAN), for networks it creates.
  Status ensure_network(const std::string& name, const std::string& subnet,
                        const std::map<std::string, std::string>& labels, int mtu = 0) const;
  // POST /containers/create; returns the container id.
  Result<std::string> create_container(const std::string& name, const nlohmann::json& config) const;
  Status start_container(const std::string& id) const;
  // Stops with a grace period, then the daemon kills it.
  Status stop_container(const std::string& id, int grace_s) const;
  Status remove_container(const std::string& id) const;  // forced, with anonymous volumes
  Result<nlohmann::json> inspect_container(const std::string& id) const;
  // Every container (running or not) that carries `label` (key, or key=value).
  Result<std::vector<ContainerSummary>> list_containers(const std::string& label) const;
  // One stats reading (no stream).
  Result<nlohmann::json> stats(const std::string& id) const;

  const std::string& socket_path() const { return socket_path_; }

 private:
  // The daemon's "message" from an error body, or the body itself.
  static std::string error_text(const EngineResponse& response);
  Status expect(const Result<EngineResponse>& response, std::initializer_list<long> ok_statuses,
                const std::string& what) const;

  std::string socket_path_;
  std::string api_version_;
};

// Percent-encodes a query value.
std::string url_encode(const std::string& value);

}  // namespace pier::agent
