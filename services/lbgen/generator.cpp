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

}  // namespace

Generator::Generator(std::string template_text, int64_t republish_ms)
    : template_text_(std::move(template_text)), republish_ms_(republish_ms) {}

std::vector<msg::LbConfig> Generator::on_state(const msg::State& state, int64_t now_ms) {
  if (!has_state_) last_republish_ms_ = now_ms;  // what on_state returns now counts as the first round
  has_state_ = true;
  std::vector<msg::LbConfig> changed;
  std::map<std::string, msg::LbConfig> latest;
  std::vector<Excluded> excluded;
  std::map<std::string, std::string> failures;
  for (const auto& host : state.hosts) {
    // A suspect host may only be slow: it keeps getting its config (and every HAProxy keeps its servers,
    // whose health checks judge them) until it is down.
    if (host.status == states::host::kDown) continue;
    if (Status s = check_host(host); !s.ok()) {
      failures[host.id] = "host record unusable: " + s.message();
      continue;
    }
    msg::LbConfig config;
    config.host_id = host.id;
    config.state_revision = state.revision;
    config.spec = build_spec(state, host, &excluded);
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
      changed.push_back(config);
    }
    latest[host.id] = std::move(config);
  }
  for (const auto& [id, config] : latest_)
    if (!latest.count(id) && !failures.count(id)) spdlog::info("host {}: down or gone, config dropped", id);
  latest_ = std::move(latest);
  std::sort(excluded.begin(), excluded.end());
  excluded.erase(std::unique(excluded.begin(), excluded.end()), excluded.end());
  report(excluded, failures);
  return changed;
}

std::vector<msg::LbConfig> Generator::due(int64_t now_ms) {
  if (!has_state_ || now_ms - last_republish_ms_ < republish_ms_) return {};
  last_republish_ms_ = now_ms;
  std::vector<msg::LbConfig> all;
  for (const auto& [id, config] : latest_) all.push_back(config);
  return all;
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
