#include "common/validate.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <regex>
#include <set>

#include "common/lb_summary.h"
#include "common/net.h"
#include "common/states.h"
#include "common/time_zone.h"

namespace pier::validate {
namespace {

Status invalid(std::string_view field, std::string rule) {
  return Status::Invalid(std::string(field), std::move(rule));
}

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool has_control(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}

// Every '%' starts a percent-encoded byte (RFC 3986: '%' and two hex digits): "%ci", "%[src]" are
// HAProxy log-format and sample expressions, which a template that puts the path into a log-format
// string (an operator's own) would evaluate.
bool percent_encoded(std::string_view path) {
  const auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
  for (std::size_t i = path.find('%'); i != std::string_view::npos; i = path.find('%', i + 1))
    if (i + 2 >= path.size() || !hex(path[i + 1]) || !hex(path[i + 2])) return false;
  return true;
}

// A "." or ".." segment of a '/'-separated path ("/a/../b", "/.."). In a URL path a client resolves them
// away (RFC 3986 5.2.4), so a route on one never matches; in a file path it climbs out of a folder.
bool has_dot_segment(std::string_view path) {
  for (std::size_t start = 0; start <= path.size();) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    const std::string_view segment = path.substr(start, slash - start);
    if (segment == "." || segment == "..") return true;
    start = slash + 1;
  }
  return false;
}

// Well-formed UTF-8 (no overlong forms, surrogates or code points above U+10FFFF): what a JSON encoder
// (the Docker Engine API's) accepts; nlohmann::json throws on anything else.
bool is_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (std::size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

// Docker's reference grammar (distribution/reference), read in one pass: a std::regex of it backtracks
// exponentially ("a/" then 80 digits and a bad character held the registry's thread for minutes; found
// by tests/fuzz). path-component: [a-z0-9]+ runs joined by one separator: '.', '_', '__' or '-'+.
bool is_path_component(std::string_view part) {
  if (part.empty() || !is_lower_alnum(part.front()) || !is_lower_alnum(part.back())) return false;
  std::size_t i = 0;
  while (i < part.size()) {
    while (i < part.size() && is_lower_alnum(part[i])) ++i;
    if (i == part.size()) break;
    const std::size_t start = i;
    while (i < part.size() && !is_lower_alnum(part[i])) ++i;
    const std::string_view separator = part.substr(start, i - start);
    const bool dashes = separator.find_first_not_of('-') == std::string_view::npos;
    if (separator != "." && separator != "_" && separator != "__" && !dashes) return false;
  }
  return true;
}

// domain: components of [A-Za-z0-9-] (alphanumeric at both ends) joined by '.', then an optional :port.
bool is_registry_host(std::string_view host) {
  if (const std::size_t colon = host.find(':'); colon != std::string_view::npos) {
    const std::string_view port = host.substr(colon + 1);
    if (port.empty() || port.find_first_not_of("0123456789") != std::string_view::npos) return false;
    host = host.substr(0, colon);
  }
  const auto alnum = [](char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); };
  for (std::size_t start = 0;;) {
    const std::size_t dot = host.find('.', start);
    const std::string_view part =
        host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (part.empty() || !alnum(part.front()) || !alnum(part.back())) return false;
    for (char c : part)
      if (!alnum(c) && c != '-') return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

}  // namespace

Status dns_label(std::string_view field, std::string_view value) {
  static const std::string rule =
      "must be a DNS label: 1-63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit";
  if (value.empty() || value.size() > 63) return invalid(field, rule);
  for (char c : value)
    if (!is_lower_alnum(c) && c != '-') return invalid(field, rule);
  if (!is_lower_alnum(value.front()) || !is_lower_alnum(value.back())) return invalid(field, rule);
  return Status::Ok();
}

Status image(std::string_view field, std::string_view value) {
  static const std::string rule =
      "must be a Docker image name: lowercase path components of a-z, 0-9 separated by '.', '_', '__' or "
      "'-', joined by '/', optionally after a registry host[:port]/, at most 255 characters, no tag";
  if (value.empty() || value.size() > 255) return invalid(field, rule);
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    const std::size_t slash = value.find('/', start);
    parts.push_back(value.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  // The first part is a registry host when it can only be one, or when it is one and the rest are paths.
  const bool rest_are_paths = std::all_of(parts.begin() + 1, parts.end(), is_path_component);
  if (!rest_are_paths) return invalid(field, rule);
  if (is_path_component(parts.front()) || (parts.size() > 1 && is_registry_host(parts.front()))) return Status::Ok();
  return invalid(field, rule);
}

Status tag(std::string_view field, std::string_view value) {
  static const std::regex kTag(R"(^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$)");
  if (!std::regex_match(value.begin(), value.end(), kTag))
    return invalid(
        field, "must be a Docker tag: 1-128 characters of A-Z, a-z, 0-9, '_', '.', '-', not starting with '.' or '-'");
  return Status::Ok();
}

Status port(std::string_view field, int value) {
  if (value < 1 || value > 65535) return invalid(field, "must be between 1 and 65535");
  return Status::Ok();
}

Status unicast_ipv4(std::string_view field, std::string_view value) {
  auto address = net::parse_ipv4(value);
  if (!address.ok()) return invalid(field, "must be an IPv4 address");
  const uint32_t a = *address;
  const uint32_t first = a >> 24;
  if (a == 0 || first == 127 || first >= 224)
    return invalid(field, "must be a unicast address another host can reach (not 0.0.0.0, 127/8, multicast)");
  return Status::Ok();
}

Status mac_address(std::string_view field, std::string_view value) {
  if (value.size() != 17) return invalid(field, "must be six hex pairs separated by ':' (0a:1b:2c:3d:4e:5f)");
  for (std::size_t i = 0; i < value.size(); ++i) {
    const bool colon = i % 3 == 2;
    if (colon ? value[i] != ':' : !std::isxdigit(static_cast<unsigned char>(value[i])))
      return invalid(field, "must be six hex pairs separated by ':' (0a:1b:2c:3d:4e:5f)");
  }
  if (std::stoi(std::string(value.substr(0, 2)), nullptr, 16) & 1)
    return invalid(field, "must be a unicast MAC (lowest bit of the first octet 0)");
  if (value == "00:00:00:00:00:00") return invalid(field, "must not be all zeros");
  return Status::Ok();
}

Status overlay(std::string_view field, const msg::OverlayInfo& overlay) {
  const std::string f(field);
  if (overlay.mode.empty()) return Status::Ok();
  if (overlay.mode != "vxlan" && overlay.mode != "host-gw")
    return invalid(f + ".mode", "must be vxlan, host-gw or empty (no overlay)");
  if (Status s = unicast_ipv4(f + ".underlay", overlay.underlay); !s.ok()) return s;
  if (overlay.probe_port != 0)
    if (Status s = port(f + ".probe_port", overlay.probe_port); !s.ok()) return s;
  if (overlay.mode != "vxlan") return Status::Ok();
  if (Status s = mac_address(f + ".vtep_mac", overlay.vtep_mac); !s.ok()) return s;
  if (overlay.vni < 1 || overlay.vni > 16'777'215) return invalid(f + ".vni", "must be between 1 and 16777215");
  return port(f + ".port", overlay.port);
}

Status lb_status(std::string_view field, const msg::LbStatus& lb) {
  for (std::size_t i = 0; i < lb.apps.size(); ++i) {
    const msg::LbApp& a = lb.apps[i];
    const std::string f = std::string(field) + ".apps[" + std::to_string(i) + "]";
    if (Status s = dns_label(f + ".app", a.app); !s.ok()) return s;
    if (i > 0 && !(lb.apps[i - 1].app < a.app))
      return invalid(f + ".app", "must come after the previous app's (sorted, once each)");
    if (a.listed < 0) return invalid(f + ".listed", "must be 0 or more");
    if (a.up < 0 || a.up > a.listed) return invalid(f + ".up", "must be between 0 and listed");
    if (a.digest.size() != 16 || !std::all_of(a.digest.begin(), a.digest.end(),
                                              [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }))
      return invalid(f + ".digest", "must be 16 lowercase hex digits");
    if (a.down.size() > lb::kMaxDownNamed || static_cast<int64_t>(a.down.size()) > a.listed - a.up)
      return invalid(f + ".down",
                     "must name at most " + std::to_string(lb::kMaxDownNamed) + " and at most listed - up");
    for (std::size_t k = 0; k < a.down.size(); ++k)
      if (states::instance_serial(a.down[k]) < 0 || lb::app_of(a.down[k]) != a.app)
        return invalid(f + ".down[" + std::to_string(k) + "]", "must be an instance id of the app (\"<app>-<n>\")");
  }
  return Status::Ok();
}

Status protocol(std::string_view field, std::string_view value) {
  if (value != "http" && value != "tcp") return invalid(field, "must be http or tcp");
  return Status::Ok();
}

Status algorithm(std::string_view field, std::string_view value) {
  if (value != "roundrobin" && value != "leastconn" && value != "source" && value != "uri")
    return invalid(field, "must be roundrobin, leastconn, source or uri");
  return Status::Ok();
}

Status context_path(std::string_view field, std::string_view value) {
  static const std::string rule =
      "must start with '/' and contain only letters, digits and - . _ ~ ! & ( ) * + , ; = : @ % / "
      "(no spaces, quotes, '$', '#' or newlines), '%' only before two hex digits, no '.' or '..' segment, "
      "at most 256 characters, no trailing '/' except for \"/\" itself";
  if (value.empty() || value.front() != '/' || value.size() > 256 || has_dot_segment(value) || !percent_encoded(value))
    return invalid(field, rule);
  static const std::string_view kAllowed = "-._~!&()*+,;=:@%/";
  for (char c : value) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && kAllowed.find(c) == std::string_view::npos) return invalid(field, rule);
  }
  if (value.size() > 1 && value.back() == '/') return invalid(field, rule);
  if (value.find("//") != std::string_view::npos) return invalid(field, rule);
  return Status::Ok();
}

Status health_path(std::string_view field, std::string_view value) {
  static const std::string rule =
      "must start with '/' and contain only letters, digits and - . _ ~ ! & ( ) * + , ; = : @ % / ? "
      "(no spaces, quotes, '$', '#' or newlines), '%' only before two hex digits, no '.' or '..' segment, "
      "at most 256 characters";
  if (value.empty() || value.front() != '/' || value.size() > 256 ||
      has_dot_segment(value.substr(0, value.find('?'))) || !percent_encoded(value))
    return invalid(field, rule);
  static const std::string_view kAllowed = "-._~!&()*+,;=:@%/?";
  for (char c : value) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && kAllowed.find(c) == std::string_view::npos) return invalid(field, rule);
  }
  return Status::Ok();
}

Status socket_path(std::string_view field, std::string_view value) {
  if (value.empty()) return Status::Ok();
  const bool plain = std::all_of(value.begin(), value.end(), [](char c) {
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || std::string_view("/._-@:").find(c) != std::string_view::npos;
  });
  // 107: what a unix socket address holds (sun_path, with its NUL).
  if (!plain || value.size() > 107 || has_dot_segment(value))
    return invalid(field,
                   "must be a path of letters, digits and / . _ - @ : only, without '.' or '..' segments, at most 107 "
                   "characters");
  return Status::Ok();
}

Status check_count(std::string_view field, int value) {
  if (value < 1 || value > kMaxCheckCount)
    return invalid(field, "must be between 1 and " + std::to_string(kMaxCheckCount));
  return Status::Ok();
}

Status check_interval(std::string_view field, int value_ms) {
  if (value_ms < kMinCheckInterMs || value_ms > kMaxCheckInterMs)
    return invalid(field, "must be between " + std::to_string(kMinCheckInterMs) + " ms and " +
                              std::to_string(kMaxCheckInterMs) + " ms (1 hour)");
  return Status::Ok();
}

Status env_key(std::string_view field, std::string_view key) {
  static const std::regex kKey(R"(^[A-Za-z_][A-Za-z0-9_]{0,127}$)");
  if (!std::regex_match(key.begin(), key.end(), kKey))
    return invalid(field, "key '" + std::string(key.substr(0, 64)) +
                              "' must start with a letter or '_' and contain only letters, digits and '_' "
                              "(at most 128 characters)");
  if (key == "PORT" || key == "HOST" || key.rfind("PIER_", 0) == 0)
    return invalid(field, "key '" + std::string(key) + "' is reserved: pier sets PORT, HOST and PIER_* itself");
  return Status::Ok();
}

Status env_value(std::string_view field, std::string_view value) {
  if (value.size() > 32768) return invalid(field, "value must be at most 32768 bytes");
  // Control characters as in command: a tab or an escape sequence is no more wanted in the environment
  // than in argv, and reaches every log and terminal that prints the value.
  if (has_control(value)) return invalid(field, "value must not contain newlines, NUL or other control characters");
  if (!is_utf8(value)) return invalid(field, "value must be UTF-8 text");
  return Status::Ok();
}

Status command(std::string_view field, const std::vector<std::string>& argv) {
  if (argv.size() > 256) return invalid(field, "must have at most 256 arguments");
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string f = std::string(field) + "[" + std::to_string(i) + "]";
    if (argv[i].empty() && i == 0) return invalid(f, "program must not be empty");
    if (argv[i].size() > 4096) return invalid(f, "must be at most 4096 bytes");
    if (has_control(argv[i])) return invalid(f, "must not contain newlines or control characters");
    if (!is_utf8(argv[i])) return invalid(f, "must be UTF-8 text");
  }
  return Status::Ok();
}

Status replicas(std::string_view field, int value) {
  if (value < 0 || value > kMaxReplicas) return invalid(field, "must be between 0 and " + std::to_string(kMaxReplicas));
  return Status::Ok();
}

Status cpu(std::string_view field, double value) {
  if (!std::isfinite(value) || value <= 0 || value > kMaxCpu)
    return invalid(field, "must be a number of cores above 0 and at most 1024 (e.g. 0.5)");
  return Status::Ok();
}

Status memory(std::string_view field, int64_t bytes) {
  if (bytes < kMinMemory || bytes > kMaxMemory) return invalid(field, "must be between 4m and 1t");
  return Status::Ok();
}

Status time_zone(std::string_view field, std::string_view name) {
  if (!is_time_zone_name(name))
    return invalid(field, "must be an IANA time zone name such as UTC, Europe/Berlin or America/New_York");
  if (auto zone = load_time_zone(name); !zone.ok())
    return invalid(field, "must be a time zone of the tz database (" + zone.status().message() + ")");
  return Status::Ok();
}

Status autoscale_policy(std::string_view field, const msg::AutoscalePolicy& policy) {
  const std::string f(field);
  const auto bounded = [&](const std::string& name, int value, int lo, int hi) {
    if (value < lo || value > hi)
      return invalid(f + "." + name, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    return Status::Ok();
  };
  const auto min_max = [&](const std::string& prefix, int min, int max) {
    if (auto s = bounded(prefix + "min", min, 0, kMaxReplicas); !s) return s;
    if (auto s = bounded(prefix + "max", max, 0, kMaxReplicas); !s) return s;
    if (min > max) return invalid(f + "." + prefix + "min", "must not be above max (" + std::to_string(max) + ")");
    return Status::Ok();
  };
  if (auto s = min_max("", policy.min, policy.max); !s) return s;
  if (policy.targets.size() > 8) return invalid(f + ".targets", "at most 8 targets");
  std::set<std::string> metrics;
  for (std::size_t i = 0; i < policy.targets.size(); ++i) {
    const std::string t = f + ".targets[" + std::to_string(i) + "]";
    const auto& target = policy.targets[i];
    if (target.metric != "cpu_percent" && target.metric != "requests_per_second" && target.metric != "p95_latency_ms")
      return invalid(t + ".metric", "must be cpu_percent, requests_per_second or p95_latency_ms");
    if (!metrics.insert(target.metric).second) return invalid(t + ".metric", "is listed twice");
    if (!std::isfinite(target.value) || target.value <= 0 || target.value > 1e9)
      return invalid(t + ".value", "must be a number above 0 (and at most 1e9)");
  }
  if (auto s = bounded("up_window_s", policy.up_window_s, 0, 86400); !s) return s;
  if (auto s = bounded("down_window_s", policy.down_window_s, 0, 86400); !s) return s;
  if (auto s = bounded("cooldown_s", policy.cooldown_s, 0, 86400); !s) return s;
  if (auto s = bounded("max_step", policy.max_step, 1, kMaxReplicas); !s) return s;
  if (auto s = bounded("stale_after_s", policy.stale_after_s, 1, 86400); !s) return s;
  if (auto s = time_zone(f + ".timezone", policy.timezone); !s) return s;
  if (policy.schedule.size() > 64) return invalid(f + ".schedule", "at most 64 periods");
  static const std::set<std::string> kDays = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  for (std::size_t i = 0; i < policy.schedule.size(); ++i) {
    const std::string p = "schedule[" + std::to_string(i) + "].";
    const auto& period = policy.schedule[i];
    if (period.days.size() > 7) return invalid(f + "." + p + "days", "at most 7 days");
    for (std::size_t d = 0; d < period.days.size(); ++d)
      if (!kDays.count(period.days[d]))
        return invalid(f + "." + p + "days[" + std::to_string(d) + "]", "must be one of mon tue wed thu fri sat sun");
    if (auto s = bounded(p + "start_hour", period.start_hour, 0, 23); !s) return s;
    if (auto s = bounded(p + "end_hour", period.end_hour, 0, 23); !s) return s;
    if (auto s = min_max(p, period.min, period.max); !s) return s;
  }
  if (auto s = bounded("prewarm_s", policy.prewarm_s, 0, 86400); !s) return s;
  return Status::Ok();
}

Status app_spec(const msg::AppSpec& spec) {
  if (auto s = dns_label("name", spec.name); !s) return s;
  if (auto s = image("image", spec.image); !s) return s;
  if (auto s = tag("tag", spec.tag); !s) return s;
  if (auto s = command("command", spec.command); !s) return s;
  if (spec.ports.empty()) return invalid("ports", "at least one external:internal mapping is required");
  if (spec.ports.size() > 64) return invalid("ports", "at most 64 mappings");
  std::set<int> externals;
  for (std::size_t i = 0; i < spec.ports.size(); ++i) {
    const std::string f = "ports[" + std::to_string(i) + "]";
    if (auto s = port(f + ".external", spec.ports[i].external); !s) return s;
    if (auto s = port(f + ".internal", spec.ports[i].internal); !s) return s;
    if (!externals.insert(spec.ports[i].external).second)
      return invalid(f + ".external", "external port " + std::to_string(spec.ports[i].external) + " is listed twice");
  }
  if (auto s = protocol("protocol", spec.protocol); !s) return s;
  if (auto s = replicas("replicas", spec.replicas); !s) return s;
  if (auto s = cpu("cpu", spec.cpu); !s) return s;
  if (auto s = memory("memory", spec.memory_bytes); !s) return s;
  if (spec.env.size() > 256) return invalid("env", "at most 256 variables");
  for (const auto& [key, value] : spec.env) {
    if (auto s = env_key("env", key); !s) return s;
    if (auto s = env_value("env." + key, value); !s) return s;
  }
  if (auto s = context_path("context_path", spec.context_path); !s) return s;
  if (spec.protocol == "tcp" && spec.context_path != "/")
    return invalid("context_path", "applies to http apps only; a tcp app must leave it at \"/\"");
  if (auto s = algorithm("algorithm", spec.algorithm); !s) return s;
  if (spec.algorithm == "uri" && spec.protocol != "http")
    return invalid("algorithm", "uri hashes the request path: it needs protocol http");
  if (spec.proxy_protocol && spec.protocol != "tcp")
    return invalid("proxy_protocol", "applies to tcp apps only; http apps get X-Forwarded-For");
  if (auto s = health_path("health_path", spec.health_path); !s) return s;
  if (spec.protocol == "tcp" && spec.health_path != "/")
    return invalid("health_path",
                   "applies to http apps only; a tcp app is checked by a connect and must leave it at \"/\"");
  if (auto s = check_count("check_rise", spec.check_rise); !s) return s;
  if (auto s = check_count("check_fall", spec.check_fall); !s) return s;
  if (auto s = check_interval("check_inter_ms", spec.check_inter_ms); !s) return s;
  if (spec.drain_timeout_ms < 0 || spec.drain_timeout_ms > 3'600'000)
    return invalid("drain_timeout_ms", "must be between 0 ms and 3600000 ms (1 hour)");
  if (spec.max_surge < 0 || spec.max_surge > kMaxReplicas)
    return invalid("max_surge", "must be between 0 and " + std::to_string(kMaxReplicas));
  if (spec.max_unavailable < 0 || spec.max_unavailable > kMaxReplicas)
    return invalid("max_unavailable", "must be between 0 and " + std::to_string(kMaxReplicas));
  if (spec.max_surge == 0 && spec.max_unavailable == 0)
    return invalid("max_unavailable", "must be at least 1 when max_surge is 0, or a rollout could never take a step");
  if (spec.rollout_timeout_ms < 1000 || spec.rollout_timeout_ms > 86'400'000)
    return invalid("rollout_timeout_ms", "must be between 1000 ms and 86400000 ms (1 day)");
  if (auto s = autoscale_policy("autoscale", spec.autoscale); !s) return s;
  return Status::Ok();
}

Result<int64_t> parse_memory(std::string_view field, std::string_view text) {
  static const std::regex kMemory(R"(^([0-9]+(?:\.[0-9]+)?)\s*([kKmMgGtT]?)(i?[bB])?$)");
  const std::string rule = "must be a size such as 64m, 512k or 1g (units k, m, g, t; plain numbers are bytes)";
  std::cmatch m;
  if (text.size() > 32 || !std::regex_match(text.begin(), text.end(), m, kMemory))
    return Status::Invalid(std::string(field), rule);
  const double number = std::stod(m[1].str());
  int shift = 0;
  switch (m[2].length() ? std::tolower(m[2].str()[0]) : 0) {
    case 'k':
      shift = 10;
      break;
    case 'm':
      shift = 20;
      break;
    case 'g':
      shift = 30;
      break;
    case 't':
      shift = 40;
      break;
    default:
      break;
  }
  const double bytes = number * static_cast<double>(int64_t{1} << shift);
  if (bytes > static_cast<double>(int64_t{1} << 50)) return Status::Invalid(std::string(field), rule);
  return static_cast<int64_t>(bytes);
}

Result<double> parse_cpu(std::string_view field, std::string_view text) {
  static const std::regex kCpu(R"(^[0-9]+(\.[0-9]+)?$)");
  if (text.size() > 16 || !std::regex_match(text.begin(), text.end(), kCpu))
    return Status::Invalid(std::string(field), "must be a number of cores such as 0.5 or 2");
  return std::stod(std::string(text));
}

Result<int> parse_int(std::string_view field, std::string_view text) {
  int value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end)
    return Status::Invalid(std::string(field), "must be a whole number");
  return value;
}

Result<msg::PortMapping> parse_port_mapping(std::string_view field, std::string_view text) {
  const std::string rule = "must be EXTERNAL:INTERNAL or PORT, each between 1 and 65535 (e.g. 8080:80)";
  auto colon = text.find(':');
  auto ext = parse_int(field, text.substr(0, colon));
  auto in = colon == std::string_view::npos ? ext : parse_int(field, text.substr(colon + 1));
  if (!ext.ok() || !in.ok()) return Status::Invalid(std::string(field), rule);
  msg::PortMapping mapping{*ext, *in};
  if (!port(field, mapping.external).ok() || !port(field, mapping.internal).ok())
    return Status::Invalid(std::string(field), rule);
  return mapping;
}

Result<std::pair<std::string, std::string>> parse_env(std::string_view field, std::string_view text) {
  auto eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) return Status::Invalid(std::string(field), "must be KEY=VALUE");
  return std::make_pair(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
}

}  // namespace pier::validate
