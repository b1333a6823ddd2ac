#include "services/scheduler/placement.h"

#include <algorithm>
#include <sstream>
#include <string>
#include <unordered_map>

#include "common/states.h"

namespace pier::scheduler {
namespace {

// An unplaced instance's reason names at most this many hosts (those with the most room): at 1,000
// hosts, every one of them would make each reason ~60 KB, and the reasons travel in every state.
constexpr std::size_t kHostsInAReason = 5;

struct HostLoad {
  const msg::HostRecord* host = nullptr;
  double cpu = 0;
  int64_t memory = 0;
  std::vector<int> per_app;  // instances of each app (by its index in `apps`) placed here
};

std::string describe(double cpu, int64_t memory) {
  std::ostringstream out;
  out << "cpu " << cpu << " and memory " << (memory >> 20) << " MiB";
  return out.str();
}

}  // namespace

// One pass over the hosts per instance, in host id order (ties go to the first), with the loads in a
// vector and the per-app counts indexed: ~10^4 placements per 1,000 hosts take milliseconds
// (bench/placement).
Plan place(const msg::State& state, const PlacementOptions& options) {
  std::unordered_map<std::string_view, std::size_t> app_index;
  for (std::size_t a = 0; a < state.apps.size(); ++a) app_index.emplace(state.apps[a].spec.name, a);

  std::vector<HostLoad> hosts;
  for (const auto& h : state.hosts)
    if (h.status == states::host::kUp && !h.subnet.empty())
      hosts.push_back({&h, 0, 0, std::vector<int>(state.apps.size(), 0)});
  std::sort(hosts.begin(), hosts.end(), [](const HostLoad& a, const HostLoad& b) { return a.host->id < b.host->id; });
  std::unordered_map<std::string_view, HostLoad*> by_id;
  for (auto& load : hosts) by_id.emplace(load.host->id, &load);

  for (const auto& i : state.instances) {
    auto host = by_id.find(i.host);
    auto app = app_index.find(i.app);
    if (host == by_id.end() || app == app_index.end()) continue;
    const msg::AppSpec& spec = state.apps[app->second].spec;
    host->second->cpu += spec.cpu;
    host->second->memory += spec.memory_bytes;
    host->second->per_app[app->second] += 1;
  }

  const auto capacity = [&options](const HostLoad& load) { return load.host->cpus * options.cpu_overcommit; };
  Plan plan;
  for (const auto& i : state.instances) {
    if (!i.host.empty()) continue;
    auto app = app_index.find(i.app);
    if (app == app_index.end()) continue;
    const std::size_t a = app->second;
    const msg::AppSpec& spec = state.apps[a].spec;
    HostLoad* best = nullptr;
    for (auto& load : hosts) {
      if (load.cpu + spec.cpu > capacity(load) + 1e-9 || load.memory + spec.memory_bytes > load.host->memory_bytes)
        continue;
      if (std::find(i.failed_hosts.begin(), i.failed_hosts.end(), load.host->id) != i.failed_hosts.end()) continue;
      if (best == nullptr) {
        best = &load;
        continue;
      }
      const int mine = load.per_app[a];
      const int theirs = best->per_app[a];
      if (mine > theirs) continue;
      const double my_share = load.cpu / load.host->cpus;
      const double their_share = best->cpu / best->host->cpus;
      if (mine < theirs || my_share < their_share - 1e-9) best = &load;
    }
    if (best == nullptr) {
      std::string reason =
          hosts.empty() ? "no host is up" : "no host has room for " + describe(spec.cpu, spec.memory_bytes) + " (";
      if (!hosts.empty()) {
        std::vector<const HostLoad*> roomiest;
        for (const auto& load : hosts) roomiest.push_back(&load);
        const std::size_t named = std::min(kHostsInAReason, roomiest.size());
        std::partial_sort(roomiest.begin(), roomiest.begin() + static_cast<std::ptrdiff_t>(named), roomiest.end(),
                          [&](const HostLoad* x, const HostLoad* y) {
                            const double fx = capacity(*x) - x->cpu, fy = capacity(*y) - y->cpu;
                            return fx != fy ? fx > fy : x->host->id < y->host->id;
                          });
        for (std::size_t n = 0; n < named; ++n) {
          const HostLoad& load = *roomiest[n];
          reason += (n == 0 ? "" : ", ") + load.host->id + ": " +
                    describe(capacity(load) - load.cpu, load.host->memory_bytes - load.memory) + " free";
        }
        if (roomiest.size() > named) reason += ", and " + std::to_string(roomiest.size() - named) + " more hosts";
        reason += ")";
      }
      plan.unplaced.push_back({i.id, reason});
      continue;
    }
    best->cpu += spec.cpu;
    best->memory += spec.memory_bytes;
    best->per_app[a] += 1;
    plan.assignments.push_back({i.id, best->host->id});
  }
  return plan;
}

}  // namespace pier::scheduler
