#include "common/lb_summary.h"

#include <algorithm>
#include <map>
#include <set>

#include "common/hash.h"
#include "common/states.h"

namespace pier::lb {

std::string app_of(const std::string& instance_id) {
  if (states::instance_serial(instance_id) < 0) return instance_id;
  return instance_id.substr(0, instance_id.rfind('-'));
}

std::string servers_digest(std::vector<std::string> ids) {
  std::sort(ids.begin(), ids.end());
  std::string text;
  for (const auto& id : ids) text += id + "\n";
  return hash::fnv1a_hex(text);
}

std::vector<msg::LbApp> summarize(const std::vector<std::string>& servers, const std::vector<std::string>& up,
                                  bool reports_up) {
  const std::set<std::string> answering(up.begin(), up.end());
  std::map<std::string, std::vector<std::string>> by_app;
  for (const auto& id : std::set<std::string>(servers.begin(), servers.end())) by_app[app_of(id)].push_back(id);
  std::vector<msg::LbApp> out;
  for (auto& [app, ids] : by_app) {
    msg::LbApp a;
    a.app = app;
    a.listed = static_cast<int>(ids.size());
    if (reports_up) {
      for (const auto& id : ids) {
        if (answering.count(id) > 0) {
          ++a.up;
        } else if (a.down.size() < kMaxDownNamed) {
          a.down.push_back(id);
        }
      }
    }
    a.digest = servers_digest(std::move(ids));
    out.push_back(std::move(a));
  }
  return out;
}

msg::LbStatus for_wire(msg::LbStatus full) {
  if (!full.reports_apps) full.apps = summarize(full.servers, full.servers_up, full.reports_servers_up);
  full.reports_apps = true;
  full.servers.clear();
  full.servers_up.clear();
  return full;
}

std::vector<msg::LbApp> apps(const msg::LbStatus& status) {
  return status.reports_apps ? status.apps : summarize(status.servers, status.servers_up, status.reports_servers_up);
}

const msg::LbApp* find(const std::vector<msg::LbApp>& apps, const std::string& app) {
  auto it = std::lower_bound(apps.begin(), apps.end(), app,
                             [](const msg::LbApp& a, const std::string& name) { return a.app < name; });
  return it != apps.end() && it->app == app ? &*it : nullptr;
}

}  // namespace pier::lb
