#include "services/scheduler/placement.h"

#include <algorithm>
#include <map>
#include <sstream>
#include <string>

#include "common/states.h"

namespace pier::scheduler {
namespace {

struct HostLoad {
  const msg::HostRecord* host = nullptr;
  double cpu = 0;
  int64_t memory = 0;
  std::map<std::string, int> per_app;
};

std::string describe(double cpu, int64_t memory) {
  std::ostringstream out;
  out << "cpu " << cpu << " and memory " << (memory >> 20) << " MiB";
  return out.str();
}

}  // namespace

Plan place(const msg::State& state, const PlacementOptions& options) {
  std::map<std::string, const msg::AppSpec*> apps;
  for (const auto& app : state.apps) apps[app.spec.name] = &app.spec;

  std::map<std::string, HostLoad> hosts;
  for (const auto& h : state.hosts)
    if (h.status == states::host::kUp && !h.subnet.empty()) hosts[h.id].host = &h;
  for (const auto& i : state.instances) {
    auto host = hosts.find(i.host);
    auto app = apps.find(i.app);
    if (host == hosts.end() || app == apps.end()) continue;
    host->second.cpu += app->second->cpu;
    host->second.memory += app->second->memory_bytes;
    host->second.per_app[i.app] += 1;
  }

  const auto capacity = [&options](const HostLoad& load) { return load.host->cpus * options.cpu_overcommit; };
  Plan plan;
  for (const auto& i : state.instances) {
    if (!i.host.empty()) continue;
    auto app = apps.find(i.app);
    if (app == apps.end()) continue;
    const msg::AppSpec& spec = *app->second;
    HostLoad* best = nullptr;
    for (auto& [id, load] : hosts) {
      if (std::find(i.failed_hosts.begin(), i.failed_hosts.end(), id) != i.failed_hosts.end()) continue;
      if (load.cpu + spec.cpu > capacity(load) + 1e-9 || load.memory + spec.memory_bytes > load.host->memory_bytes)
        continue;
      if (best == nullptr) {
        best = &load;
        continue;
      }
      const int mine = load.per_app[spec.name];
      const int theirs = best->per_app[spec.name];
      const double my_share = load.cpu / load.host->cpus;
      const double their_share = best->cpu / best->host->cpus;
      if (mine < theirs || (mine == theirs && my_share < their_share - 1e-9)) best = &load;
    }
    if (best == nullptr) {
      std::string reason =
          hosts.empty() ? "no host is up" : "no host has room for " + describe(spec.cpu, spec.memory_bytes) + " (";
      if (!hosts.empty()) {
        bool first = true;
        for (const auto& [id, load] : hosts) {
          reason += (first ? "" : ", ") + id + ": " +
                    describe(capacity(load) - load.cpu, load.host->memory_bytes - load.memory) + " free";
          first = false;
        }
        reason += ")";
      }
      plan.unplaced.push_back({i.id, reason});
      continue;
    }
    best->cpu += spec.cpu;
    best->memory += spec.memory_bytes;
    best->per_app[spec.name] += 1;
    plan.assignments.push_back({i.id, best->host->id});
  }
  return plan;
}

}  // namespace pier::scheduler
