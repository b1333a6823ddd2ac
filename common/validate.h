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
inline constexpr int kMaxCheckCount = 100;  // check_rise, check_fall
inline constexpr int kMinCheckInterMs = 100;
inline constexpr int kMaxCheckInterMs = 3'600'000;

Status dns_label(std::string_view field, std::string_view value);
Status image(std::string_view field, std::string_view value);  // Docker reference name, no tag
Status tag(std::string_view field, std::string_view value);
Status port(std::string_view field, int value);
Status protocol(std::string_view field, std::string_view value);
Status algorithm(std::string_view field, std::string_view value);
Status context_path(std::string_view field, std::string_view value);
Status health_path(std::string_view field, std::string_view value);  // a URL path, '?' and query allowed
// A unix socket's path as it goes into haproxy.cfg (`stats socket`): empty (none), or plain characters
// without '.' or '..' segments.
Status socket_path(std::string_view field, std::string_view value);
Status check_count(std::string_view field, int value);        // 1..kMaxCheckCount
Status check_interval(std::string_view field, int value_ms);  // kMinCheckInterMs..kMaxCheckInterMs
Status env_key(std::string_view field, std::string_view key);
Status env_value(std::string_view field, std::string_view value);
Status command(std::string_view field, const std::vector<std::string>& argv);
Status replicas(std::string_view field, int value);
Status cpu(std::string_view field, double value);
Status memory(std::string_view field, int64_t bytes);
// An IANA zone name that exists in the tz database and parses ("UTC" needs no database).
Status time_zone(std::string_view field, std::string_view name);
// Every field of an autoscale policy, named "<field>.min", "<field>.schedule[1].start_hour", ...
// Checked whether or not it is enabled, so a policy is never stored broken.
Status autoscale_policy(std::string_view field, const msg::AutoscalePolicy& policy);

// A unicast IPv4 address another host can send to: not 0.0.0.0, loopback, multicast or broadcast.
Status unicast_ipv4(std::string_view field, std::string_view value);
// Six two-digit hex pairs separated by ':' ("0a:1b:2c:3d:4e:5f"), unicast and not all zero.
Status mac_address(std::string_view field, std::string_view value);
// A host's overlay end (mode "" | vxlan | host-gw; with a mode: its underlay, and for vxlan its VTEP MAC,
// VNI 1..16777215 and UDP port), fields named "<field>.underlay", "<field>.vtep_mac", ...
Status overlay(std::string_view field, const msg::OverlayInfo& overlay);
// A host's HAProxy status: its per-app summary (lb::summarize) sorted by app, each app a DNS label,
// 0 <= up <= listed, a 16-hex-digit digest, in down at most lb::kMaxDownNamed and listed - up of the
// app's instance ids.
// Fields "<field>.apps[i].listed", ...
Status lb_status(std::string_view field, const msg::LbStatus& lb);

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
