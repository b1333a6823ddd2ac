#include "services/lbgen/generator.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/states.h"
#include "services/lbgen/config_hash.h"
#include "services/lbgen/render.h"

namespace pier::lbgen {
namespace {

std::size_t server_count(const msg::LbSpec& spec) {
  std::size_t n = 0;
  for (const auto& b : spec.backends) n += b.servers.size();
  return n;
}

std::size_t server_count(const lb::FleetSpec& spec) {
  std::size_t n = 0;
  for (const auto& [name, entry] : spec.backends) n += entry.backend.servers.size();
  return n;
}

}  // namespace

Generator::Generator(std::string template_text, int64_t republish_ms)
    : template_text_(std::move(template_text)), republish_ms_(republish_ms) {}

Publications Generator::on_state(const msg::State& state, int64_t now_ms) {
  if (!has_state_) last_republish_ms_ = now_ms;  // what on_state returns now counts as the first round
  Publications out;
  std::vector<Excluded> excluded;
  // Every host's spec is this one but for the host's own fields (lb_spec.h): built once per state.
  lb::FleetSpec fleet = lb::fleet_of(build_spec(state, msg::HostRecord{}, &excluded), template_text_, state.revision);
  if (!has_state_ || fleet.hash != fleet_.hash) {
    out.spec = has_state_ ? lb::delta(fleet_, fleet) : lb::whole(fleet);
    spdlog::info(
        "lb spec {} at state revision {} ({} frontends, {} backends, {} servers): {} backends changed, {} "
        "removed",
        fleet.hash, state.revision, fleet.frontends.size(), fleet.backends.size(), server_count(fleet),
        out.spec->backends.size(), out.spec->removed.size());
  }
  fleet_ = std::move(fleet);
  has_state_ = true;

  std::map<std::string, msg::LbConfig> latest;
  std::map<std::string, std::string> failures;
  for (const auto& host : state.hosts) {
    // A suspect host may only be slow: it keeps getting its config (and every HAProxy keeps its servers,
    // whose health checks judge them) until it is down. A host whose agent renders gets only the spec.
    if (host.status == states::host::kDown || host.renders_lb) continue;
    if (Status s = check_host(host); !s.ok()) {
      failures[host.id] = "host record unusable: " + s.message();
      continue;
    }
    msg::LbConfig config;
    config.host_id = host.id;
    config.state_revision = state.revision;
    config.spec = lb::for_host(fleet_, host.id, host.address, host.haproxy_socket, host.stats_port);
    auto text = render(config.spec, template_text_);
    if (!text.ok()) {
      failures[host.id] = text.status().message();
      continue;
    }
    config.haproxy_cfg = std::move(*text);
    config.hash = config_hash(config.haproxy_cfg);
    auto previous = latest_.find(host.id);
    if (previous == latest_.end() || previous->second.hash != config.hash) {
      spdlog::info("host {}: new config {} at state revision {} ({} frontends, {} backends, {} servers)", host.id,
                   config.hash, state.revision, config.spec.frontends.size(), config.spec.backends.size(),
                   server_count(config.spec));
      out.configs.push_back(config);
    }
    latest[host.id] = std::move(config);
  }
  for (const auto& [id, config] : latest_)
    if (!latest.count(id) && !failures.count(id))
      spdlog::info("host {}: no rendered config (down, gone, or renders its own)", id);
  latest_ = std::move(latest);
  std::sort(excluded.begin(), excluded.end());
  excluded.erase(std::unique(excluded.begin(), excluded.end()), excluded.end());
  report(excluded, failures);
  return out;
}

Publications Generator::due(int64_t now_ms) {
  if (!has_state_ || now_ms - last_republish_ms_ < republish_ms_) return {};
  last_republish_ms_ = now_ms;
  Publications out;
  out.spec = lb::delta(fleet_, fleet_);
  for (const auto& [id, config] : latest_) out.configs.push_back(config);
  return out;
}

std::optional<msg::LbSpecUpdate> Generator::whole() const {
  if (!has_state_) return std::nullopt;
  return lb::whole(fleet_);
}

void Generator::report(const std::vector<Excluded>& excluded, const std::map<std::string, std::string>& failures) {
  // Every host sees the same apps, so an exclusion is logged once, not once per host.
  for (const auto& e : excluded)
    if (!std::binary_search(logged_excluded_.begin(), logged_excluded_.end(), e)) {
      if (e.port != 0)
        spdlog::warn("app {} left out of port {}: {}", e.app, e.port, e.reason);
      else
        spdlog::warn("app {} left out: {}", e.app, e.reason);
    }
  logged_excluded_ = excluded;
  for (const auto& [host, why] : failures) {
    auto it = logged_failures_.find(host);
    if (it == logged_failures_.end() || it->second != why) spdlog::error("host {}: no config: {}", host, why);
  }
  logged_failures_ = failures;
}

}  // namespace pier::lbgen
