#include "services/agent/docker_runtime.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstdlib>

namespace pier::agent {

DockerRuntime::DockerRuntime(DockerEngine& engine, std::string host_id, const Clock& clock)
    : engine_(engine), host_id_(std::move(host_id)), clock_(clock) {
  adopt();
}

nlohmann::json DockerRuntime::container_config(const InstanceSpec& spec, const std::string& host_id,
                                               const std::string& network) {
  nlohmann::json env = nlohmann::json::array();
  std::map<std::string, std::string> vars = spec.env;
  vars["PORT"] = std::to_string(spec.port);
  vars["HOST"] = spec.ip;
  vars["PIER_INSTANCE"] = spec.id;
  vars["PIER_APP"] = spec.app;
  vars["PIER_HOST_ID"] = host_id;
  vars["PIER_REVISION"] = std::to_string(spec.revision);
  for (const auto& [k, v] : vars) env.push_back(k + "=" + v);
  nlohmann::json config = {
      {"Image", spec.image + ":" + spec.tag},
      {"Env", env},
      {"Labels",
       {{kLabelHost, host_id},
        {kLabelApp, spec.app},
        {kLabelInstance, spec.id},
        {kLabelRevision, std::to_string(spec.revision)},
        {kLabelIp, spec.ip},
        {kLabelPort, std::to_string(spec.port)}}},
      {"ExposedPorts", {{std::to_string(spec.port) + "/tcp", nlohmann::json::object()}}},
      {"HostConfig",
       {{"NanoCpus", static_cast<int64_t>(std::llround(spec.cpu * 1e9))},
        {"Memory", spec.memory_bytes},
        {"NetworkMode", network},
        {"RestartPolicy", {{"Name", "no"}}}}},
      {"NetworkingConfig", {{"EndpointsConfig", {{network, {{"IPAMConfig", {{"IPv4Address", spec.ip}}}}}}}}},
  };
  // As Kubernetes does: the app's command replaces the image's entrypoint and arguments; without one
  // the image's own run.
  if (!spec.command.empty()) {
    config["Entrypoint"] = nlohmann::json::array({spec.command[0]});
    config["Cmd"] = std::vector<std::string>(spec.command.begin() + 1, spec.command.end());
  }
  return config;
}

std::string DockerRuntime::last_log_line(const std::string& multiplexed) {
  // Frames: [stream 1 byte][0 0 0][size 4 bytes big-endian][payload]. A TTY container sends raw text.
  std::string text;
  std::size_t at = 0;
  bool framed = multiplexed.size() >= 8 && (multiplexed[0] == 1 || multiplexed[0] == 2) && multiplexed[1] == 0;
  while (framed && at + 8 <= multiplexed.size()) {
    const auto b = [&](std::size_t i) {
      return static_cast<uint32_t>(static_cast<unsigned char>(multiplexed[at + i]));
    };
    const uint32_t size = (b(4) << 24) | (b(5) << 16) | (b(6) << 8) | b(7);
    if (at + 8 + size > multiplexed.size()) break;
    text.append(multiplexed, at + 8, size);
    at += 8 + size;
  }
  if (!framed) text = multiplexed;
  std::size_t end = text.size();
  while (end > 0) {
    while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == '\r' || text[end - 1] == ' ')) --end;
    std::size_t begin = end == 0 ? std::string::npos : text.rfind('\n', end - 1);
    begin = begin == std::string::npos ? 0 : begin + 1;
    if (end > begin) return text.substr(begin, std::min<std::size_t>(end - begin, 300));
    end = begin;
  }
  return {};
}

void DockerRuntime::adopt() {
  auto listed = engine_.list_containers(std::string(kLabelHost) + "=" + host_id_);
  if (!listed.ok()) {
    spdlog::warn("docker: cannot list containers to adopt: {}", listed.status().message());
    return;
  }
  for (const auto& c : *listed) {
    const auto label = [&c](const char* key) {
      auto it = c.labels.find(key);
      return it == c.labels.end() ? std::string() : it->second;
    };
    const std::string id = label(kLabelInstance);
    if (id.empty()) continue;
    if (c.state != "running") {
      engine_.remove_container(c.id);
      continue;
    }
    Container container;
    container.container_id = c.id;
    container.instance.adopted = true;
    InstanceSpec& spec = container.instance.spec;
    spec.id = id;
    spec.app = label(kLabelApp);
    spec.ip = label(kLabelIp);
    spec.port = std::atoi(label(kLabelPort).c_str());
    spec.revision = std::atoll(label(kLabelRevision).c_str());
    if (auto inspected = engine_.inspect_container(c.id); inspected.ok())
      container.instance.pid = read_inspect(*inspected).pid;
    spdlog::info("adopted container {} for instance {} of app {} (revision {})", c.id.substr(0, 12), id, spec.app,
                 spec.revision);
    containers_[id] = std::move(container);
  }
}

Result<DockerRuntime::Started> DockerRuntime::make_and_start(const InstanceSpec& spec) const {
  // The common case costs two API calls (create, start); the rare ones are found from create's answer.
  const std::string name = container_name(spec.id);
  const nlohmann::json config = container_config(spec, host_id_, network_name());
  auto created = engine_.create_container(name, config);
  if (!created.ok() && created.status().message().find("No such image") != std::string::npos) {
    spdlog::info("pulling image {}:{} for instance {}", spec.image, spec.tag, spec.id);
    if (Status s = engine_.pull(spec.image, spec.tag); !s.ok()) return s;
    created = engine_.create_container(name, config);
  }
  if (!created.ok() && created.status().message().find("already in use") != std::string::npos) {
    // A container of this instance exists. Made for this very spec and running (left by an agent that
    // could not list it at its start), it is taken over as it runs; otherwise it is a leftover.
    if (auto existing = engine_.inspect_container(name); existing.ok()) {
      const ContainerFacts facts = read_inspect(*existing);
      const auto label = [&facts](const char* key) {
        auto it = facts.labels.find(key);
        return it == facts.labels.end() ? std::string() : it->second;
      };
      if (facts.running && label(kLabelRevision) == std::to_string(spec.revision) && label(kLabelIp) == spec.ip &&
          label(kLabelHost) == host_id_) {
        spdlog::info("took over running container {} for instance {}", facts.id.substr(0, 12), spec.id);
        return Started{facts.id, facts.pid};
      }
      if (label(kLabelHost) != host_id_)
        return Status::Error("container name " + name + " is taken by a container that is not this host's");
    }
    engine_.remove_container(name);
    created = engine_.create_container(name, config);
  }
  if (!created.ok()) return created.status();
  if (Status s = engine_.start_container(*created); !s.ok()) {
    engine_.remove_container(*created);
    return s;
  }
  return Started{*created, 0};  // the pid is read later, off the path to serving (pid_of)
}

Result<pid_t> DockerRuntime::start(const InstanceSpec& spec) {
  if (containers_.count(spec.id) != 0) return Status::Error("instance " + spec.id + " is already running");
  if (spec.subnet.empty()) return Status::Error("host " + host_id_ + " has no subnet from the registry yet");
  if (spec.subnet != network_subnet_) {
    if (Status s = engine_.ensure_network(network_name(), spec.subnet, {{kLabelHost, host_id_}}, network_mtu_); !s.ok())
      return s;
    network_subnet_ = spec.subnet;
  }
  Container container;
  container.instance = RunningInstance{spec, 0, false};
  container.starting = std::async(std::launch::async, [this, spec] { return make_and_start(spec); });
  containers_[spec.id] = std::move(container);
  return 0;
}

std::optional<InstanceExit> DockerRuntime::settle(const std::string& id, Container& container) {
  Result<Started> started = container.starting.get();
  if (!started.ok()) {
    InstanceExit exit;
    exit.id = id;
    exit.code = -1;
    exit.failure = started.status().message();
    exit.stopped = container.kill_at_ms >= 0;
    return exit;
  }
  container.container_id = started->container_id;
  container.instance.pid = started->pid;
  if (container.kill_at_ms >= 0)  // stopped while it was starting
    engine_.request("POST", "/containers/" + container.container_id + "/kill?signal=SIGTERM");
  return std::nullopt;
}

DockerRuntime::~DockerRuntime() {
  for (auto& [id, container] : containers_)
    if (container.starting.valid()) container.starting.wait();
}

void DockerRuntime::stop(const std::string& id, int grace_ms) {
  auto it = containers_.find(id);
  if (it == containers_.end() || it->second.kill_at_ms >= 0) return;
  it->second.kill_at_ms = clock_.steady_ms() + std::max(0, grace_ms);
  if (it->second.starting.valid()) return;  // settle() sends the signal once the container exists
  engine_.request("POST", "/containers/" + it->second.container_id + "/kill?signal=SIGTERM");
}

InstanceExit DockerRuntime::finish(const std::string& id, const Container& container, bool gone) {
  InstanceExit exit;
  exit.id = id;
  exit.code = -1;
  exit.stopped = container.kill_at_ms >= 0;
  if (gone) {
    exit.last_output = "container " + container.container_id.substr(0, 12) + " was removed";
    return exit;
  }
  if (auto inspected = engine_.inspect_container(container.container_id); inspected.ok())
    exit.code = read_inspect(*inspected).exit_code;
  auto logs = engine_.request("GET", "/containers/" + container.container_id + "/logs?stdout=true&stderr=true&tail=20");
  if (logs.ok() && logs->status == 200) exit.last_output = last_log_line(logs->body);
  engine_.remove_container(container.container_id);
  return exit;
}

std::vector<InstanceExit> DockerRuntime::poll() {
  std::vector<InstanceExit> exits;
  for (auto it = containers_.begin(); it != containers_.end();) {
    Container& container = it->second;
    const bool ready =
        container.starting.valid() && container.starting.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
    std::optional<InstanceExit> failed = ready ? settle(it->first, container) : std::nullopt;
    if (failed) {
      exits.push_back(std::move(*failed));
      it = containers_.erase(it);
    } else {
      ++it;
    }
  }
  if (containers_.empty()) return exits;
  auto listed = engine_.list_containers(std::string(kLabelHost) + "=" + host_id_);
  if (!listed.ok()) return exits;               // daemon away: nothing is known to have exited
  std::map<std::string, std::string> state_of;  // container id -> state
  for (const auto& c : *listed) state_of[c.id] = c.state;
  for (auto it = containers_.begin(); it != containers_.end();) {
    Container& container = it->second;
    if (container.starting.valid()) {  // still being made
      ++it;
      continue;
    }
    const auto found = state_of.find(container.container_id);
    const bool gone = found == state_of.end();
    if (!gone && (found->second == "running" || found->second == "created" || found->second == "restarting")) {
      if (container.instance.pid == 0 && found->second == "running")
        if (auto inspected = engine_.inspect_container(container.container_id); inspected.ok())
          container.instance.pid = read_inspect(*inspected).pid;
      if (container.kill_at_ms >= 0 && clock_.steady_ms() >= container.kill_at_ms) {
        engine_.request("POST", "/containers/" + container.container_id + "/kill?signal=SIGKILL");
        container.kill_at_ms = clock_.steady_ms() + 1000;
      }
      ++it;
      continue;
    }
    exits.push_back(finish(it->first, container, gone));
    it = containers_.erase(it);
  }
  return exits;
}

std::vector<RunningInstance> DockerRuntime::list() const {
  std::vector<RunningInstance> out;
  for (const auto& [id, container] : containers_) out.push_back(container.instance);
  return out;
}

Status DockerRuntime::ensure_host_network(const std::string& subnet) const {
  return engine_.ensure_network(network_name(), subnet, {{kLabelHost, host_id_}}, network_mtu_);
}

}  // namespace pier::agent
