// What `pier deploy` sends: an AppSpec built from an app file (YAML) and flags, flags overriding the
// file, then checked by common/validate before anything goes on the bus.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/messages.h"
#include "common/status.h"

namespace pier::cli {

// Deploy flags as typed (text: each is parsed and validated when merged). Unset fields keep the file's
// value, or AppSpec's default.
struct DeployFlags {
  std::optional<std::string> name, image, tag, protocol, replicas, cpu, memory, context_path, algorithm;
  std::vector<std::string> command;  // every --command, each split on blanks, in order
  std::vector<std::string> ports;    // "EXTERNAL:INTERNAL"
  std::vector<std::string> env;      // "KEY=VALUE"
  std::optional<std::string> health_path, check_rise, check_fall, check_inter;  // check_inter: 2000, 500ms, 2s
  std::optional<std::string> drain_timeout;                                     // 30000, 30s
  std::optional<std::string> max_surge, max_unavailable, rollout_timeout;       // rollout_timeout: 60s
  bool proxy_protocol = false;                                                  // --proxy-protocol given
};

// Applies an app file's YAML text on top of `spec`. Keys: name, image (may carry ":tag"), tag, command
// (string or list), ports (list of "e:i"), protocol, replicas, cpu, memory, env (map), context_path,
// algorithm, health_path, check_rise, check_fall, check_inter_ms (2000, 500ms or 2s), drain_timeout_ms,
// proxy_protocol (true | false), max_surge, max_unavailable, rollout_timeout_ms (60000 or 60s),
// autoscale (a map: see apply_autoscale in deploy_spec.cpp). An unknown key or a value of the wrong shape is an Invalid
// status naming the key.
Result<msg::AppSpec> apply_yaml(const std::string& yaml_text, msg::AppSpec spec);

// Applies flags on top of `spec`: scalars replace; --command and --port replace the file's whole list;
// --env adds to (or replaces keys of) the file's env.
Result<msg::AppSpec> apply_flags(const DeployFlags& flags, msg::AppSpec spec);

// The spec to send: defaults, then the file (if any), then the flags, then validate::app_spec.
Result<msg::AppSpec> build_spec(const std::optional<std::string>& yaml_text, const DeployFlags& flags);

}  // namespace pier::cli
