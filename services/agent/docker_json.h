// Readers of the Docker Engine API's JSON answers. A daemon (or something answering on its socket) may
// send any shape: each reader takes the body as it came and never throws; a field of an unexpected type
// reads as absent (its default), and an answer that is not JSON of the expected kind reads as nullopt.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pier::agent {

struct ContainerSummary {
  std::string id;
  std::string name;   // without the leading "/"
  std::string state;  // created | running | exited | dead | ...
  std::map<std::string, std::string> labels;
};

// GET /containers/json: the containers listed, or nullopt when the answer is not a JSON array.
std::optional<std::vector<ContainerSummary>> read_container_list(std::string_view body);

// GET /containers/{id}/json, already parsed: what the agent uses of a container.
struct ContainerFacts {
  std::string id;
  bool running = false;                       // State.Running
  int pid = 0;                                // State.Pid
  int exit_code = -1;                         // State.ExitCode
  std::map<std::string, std::string> labels;  // Config.Labels
};
ContainerFacts read_inspect(const nlohmann::json& inspected);

// POST /containers/create: the new container's id, or nullopt when the answer has none.
std::optional<std::string> read_created_id(std::string_view body);

// GET /networks/{name}: its IPAM subnets and whether containers are attached; nullopt: not a JSON object.
struct NetworkFacts {
  std::vector<std::string> subnets;
  bool containers_attached = false;
};
std::optional<NetworkFacts> read_network(std::string_view body);

// An error answer's "message", or empty when it has none.
std::string read_error_message(std::string_view body);

// POST /images/create streams one JSON object per line; a failure part-way is a line with "error".
std::optional<std::string> read_pull_error(std::string_view progress);

}  // namespace pier::agent
