#include "services/agent/docker_json.h"

namespace pier::agent {
namespace {

nlohmann::json parse(std::string_view body) { return nlohmann::json::parse(body, nullptr, false); }

// `object[key]` when `object` is an object holding `key`, else null: never throws, never inserts.
const nlohmann::json& member(const nlohmann::json& object, const char* key) {
  static const nlohmann::json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

std::string string_of(const nlohmann::json& value) { return value.is_string() ? value.get<std::string>() : ""; }

// An integer that fits an int, else `fallback` (a float, a string or a huge number is not one).
int int_of(const nlohmann::json& value, int fallback) {
  if (value.is_number_integer()) {
    const auto n = value.get<int64_t>();
    if (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(INT32_MAX)) return fallback;
    if (n >= INT32_MIN && n <= INT32_MAX) return static_cast<int>(n);
  }
  return fallback;
}

std::map<std::string, std::string> labels_of(const nlohmann::json& labels) {
  std::map<std::string, std::string> out;
  if (!labels.is_object()) return out;
  for (const auto& [key, value] : labels.items())
    if (value.is_string()) out[key] = value.get<std::string>();
  return out;
}

}  // namespace

std::optional<std::vector<ContainerSummary>> read_container_list(std::string_view body) {
  const auto parsed = parse(body);
  if (!parsed.is_array()) return std::nullopt;
  std::vector<ContainerSummary> out;
  for (const auto& item : parsed) {
    if (!item.is_object()) continue;
    ContainerSummary c;
    c.id = string_of(member(item, "Id"));
    c.state = string_of(member(item, "State"));
    const auto& names = member(item, "Names");
    if (names.is_array() && !names.empty()) c.name = string_of(names[0]);
    if (!c.name.empty() && c.name.front() == '/') c.name.erase(0, 1);
    c.labels = labels_of(member(item, "Labels"));
    out.push_back(std::move(c));
  }
  return out;
}

ContainerFacts read_inspect(const nlohmann::json& inspected) {
  ContainerFacts facts;
  facts.id = string_of(member(inspected, "Id"));
  const auto& state = member(inspected, "State");
  const auto& running = member(state, "Running");
  facts.running = running.is_boolean() && running.get<bool>();
  facts.pid = int_of(member(state, "Pid"), 0);
  facts.exit_code = int_of(member(state, "ExitCode"), -1);
  facts.labels = labels_of(member(member(inspected, "Config"), "Labels"));
  return facts;
}

std::optional<std::string> read_created_id(std::string_view body) {
  const auto parsed = parse(body);
  const auto& id = member(parsed, "Id");
  if (!id.is_string() || id.get<std::string>().empty()) return std::nullopt;
  return id.get<std::string>();
}

std::optional<NetworkFacts> read_network(std::string_view body) {
  const auto parsed = parse(body);
  if (!parsed.is_object()) return std::nullopt;
  NetworkFacts facts;
  const auto& configs = member(member(parsed, "IPAM"), "Config");
  if (configs.is_array())
    for (const auto& config : configs)
      if (std::string subnet = string_of(member(config, "Subnet")); !subnet.empty())
        facts.subnets.push_back(std::move(subnet));
  const auto& attached = member(parsed, "Containers");
  facts.containers_attached = attached.is_object() && !attached.empty();
  return facts;
}

std::string read_error_message(std::string_view body) {
  const auto parsed = parse(body);
  return string_of(member(parsed, "message"));
}

std::optional<std::string> read_pull_error(std::string_view progress) {
  std::size_t start = 0;
  while (start < progress.size()) {
    std::size_t end = progress.find('\n', start);
    if (end == std::string_view::npos) end = progress.size();
    const auto event = parse(progress.substr(start, end - start));
    const auto& error = member(event, "error");
    if (error.is_string()) return error.get<std::string>();
    start = end + 1;
  }
  return std::nullopt;
}

}  // namespace pier::agent
