// The one validation module: every field that reaches the registry, a template or a command line is
// checked here against a whitelist. A failure names the field and the rule it broke.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/messages.h"
#include "common/status.h"

namespace pier::validate {

inline constexpr int kMaxReplicas = 1000;
inline constexpr double kMaxCpu = 1024;
inline constexpr int64_t kMinMemory = 4LL << 20;
inline constexpr int64_t kMaxMemory = 1LL << 40;

Status dns_label(std::string_view field, std::string_view value);
Status image(std::string_view field, std::string_view value);   // Docker reference name, no tag
Status tag(std::string_view field, std::string_view value);
Status port(std::string_view field, int value);
Status protocol(std::string_view field, std::string_view value);
Status algorithm(std::string_view field, std::string_view value);
Status context_path(std::string_view field, std::string_view value);
Status env_key(std::string_view field, std::string_view key);
Status env_value(std::string_view field, std::string_view value);
Status command(std::string_view field, const std::vector<std::string>& argv);
Status replicas(std::string_view field, int value);
Status cpu(std::string_view field, double value);
Status memory(std::string_view field, int64_t bytes);

// Every field of a spec, in the order the spec lists them; the first failure is returned.
Status app_spec(const msg::AppSpec& spec);

// Parsers for what people type. Each failure names `field`.
Result<int64_t> parse_memory(std::string_view field, std::string_view text);  // "64m", "1g", "512k", "1048576"
Result<double> parse_cpu(std::string_view field, std::string_view text);      // "0.5"
Result<int> parse_int(std::string_view field, std::string_view text);
Result<msg::PortMapping> parse_port_mapping(std::string_view field, std::string_view text);  // "8080:80" or "80"
// "KEY=VALUE" (the value may contain '='; the key may not).
Result<std::pair<std::string, std::string>> parse_env(std::string_view field, std::string_view text);

}  // namespace pier::validate
