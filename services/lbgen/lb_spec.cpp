#include "services/lbgen/lb_spec.h"

#include <algorithm>
#include <map>

#include "common/net.h"
#include "common/states.h"
#include "common/validate.h"

namespace pier::lbgen {
namespace {

std::string backend_name(const std::string& app, int internal) { return "app_" + app + "_" + std::to_string(internal); }

// Why `app` cannot join the frontend `fe`, or empty when it can.
std::string conflict(const msg::LbFrontend& fe, const msg::AppSpec& app,
                     const std::map<std::string, std::string>& app_of_backend) {
  const auto owner = [&](const msg::LbRoute& r) { return app_of_backend.at(r.backend); };
  if (fe.mode == "tcp") return "port " + std::to_string(fe.port) + " is taken by tcp app " + owner(fe.routes.front());
  if (app.protocol == "tcp")
    return "tcp needs port " + std::to_string(fe.port) + " to itself, http app " + owner(fe.routes.front()) +
           " uses it";
  for (const auto& r : fe.routes)
    if (r.context_path == app.context_path)
      return "context path " + app.context_path + " on port " + std::to_string(fe.port) + " is taken by " + owner(r);
  return {};
}

}  // namespace

Status check_host(const msg::HostRecord& host) {
  if (Status s = validate::dns_label("id", host.id); !s.ok()) return s;
  if (!host.address.empty() && !net::parse_ipv4(host.address).ok())
    return Status::Invalid("address", "must be an IPv4 address");
  if (host.stats_port != 0)
    if (Status s = validate::port("stats_port", host.stats_port); !s.ok()) return s;
  if (Status s = validate::socket_path("haproxy_socket", host.haproxy_socket); !s.ok()) return s;
  return Status::Ok();
}

msg::LbSpec build_spec(const msg::State& state, const msg::HostRecord& host, std::vector<Excluded>* excluded) {
  msg::LbSpec spec;
  spec.host_id = host.id;
  spec.bind_address = host.address;
  spec.stats_socket = host.haproxy_socket;
  spec.stats_port = host.stats_port;

  const auto exclude = [excluded](const std::string& app, int port, std::string reason) {
    if (excluded != nullptr) excluded->push_back({app, port, std::move(reason)});
  };

  std::map<int, msg::LbFrontend> frontends;  // by external port
  struct Draft {
    msg::LbBackend backend;
    int internal = 0;
  };
  std::map<std::string, Draft> backends;              // by name, only those a route uses
  std::map<std::string, std::string> app_of_backend;  // backend name -> app, for conflict messages
  for (const auto& record : state.apps) {
    const msg::AppSpec& app = record.spec;
    if (Status s = validate::app_spec(app); !s.ok()) {
      exclude(app.name, 0, "invalid spec: " + s.message());
      continue;
    }
    for (const auto& mapping : app.ports) {
      const std::string backend = backend_name(app.name, mapping.internal);
      auto [it, fresh] = frontends.try_emplace(mapping.external);
      msg::LbFrontend& fe = it->second;
      if (fresh) {
        fe.name = "fe_" + std::to_string(mapping.external);
        fe.port = mapping.external;
        fe.mode = app.protocol;
      } else if (std::string why = conflict(fe, app, app_of_backend); !why.empty()) {
        exclude(app.name, mapping.external, why);
        continue;
      }
      fe.routes.push_back({app.protocol == "tcp" ? "/" : app.context_path, backend});
      app_of_backend[backend] = app.name;
      msg::LbBackend be;
      be.name = backend;
      be.app = app.name;
      be.mode = app.protocol;
      be.algorithm = app.algorithm;
      be.health_path = app.health_path;
      be.check_rise = app.check_rise;
      be.check_fall = app.check_fall;
      be.check_inter_ms = app.check_inter_ms;
      // A tenth of the interval, at least 100 ms: a server on its way up (or down) is judged within a few
      // hundred ms of its first check, so a scale is live (every HAProxy finds it up) about as soon as the
      // agent's own check passed.
      be.check_fastinter_ms = std::min(app.check_inter_ms, std::max(100, app.check_inter_ms / 10));
      be.proxy_protocol = app.proxy_protocol;
      be.request_log = app.autoscale.enabled &&
                       std::any_of(app.autoscale.targets.begin(), app.autoscale.targets.end(),
                                   [](const msg::AutoscaleTarget& t) { return t.metric == "p95_latency_ms"; });
      backends.try_emplace(backend, Draft{std::move(be), mapping.internal});
    }
  }

  for (const auto& instance : state.instances) {
    if (instance.state != states::instance::kRunning || instance.ip.empty()) continue;
    if (!net::parse_ipv4(instance.ip).ok() || !validate::dns_label("instance", instance.id).ok()) {
      exclude(instance.app, 0, "instance " + instance.id.substr(0, 64) + " has an invalid id or ip");
      continue;
    }
    for (auto& [name, draft] : backends)
      if (draft.backend.app == instance.app)
        draft.backend.servers.push_back({instance.id, instance.ip, draft.internal});
  }

  for (auto& [port, fe] : frontends) {
    std::sort(fe.routes.begin(), fe.routes.end(), [](const msg::LbRoute& a, const msg::LbRoute& b) {
      if (a.context_path.size() != b.context_path.size()) return a.context_path.size() > b.context_path.size();
      return a.context_path < b.context_path;
    });
    spec.frontends.push_back(std::move(fe));
  }
  for (auto& [name, draft] : backends) {
    auto& servers = draft.backend.servers;
    std::sort(servers.begin(), servers.end(),
              [](const msg::LbServer& a, const msg::LbServer& b) { return a.name < b.name; });
    spec.backends.push_back(std::move(draft.backend));
  }
  if (excluded != nullptr) {
    std::sort(excluded->begin(), excluded->end());
    excluded->erase(std::unique(excluded->begin(), excluded->end()), excluded->end());
  }
  return spec;
}

}  // namespace pier::lbgen
