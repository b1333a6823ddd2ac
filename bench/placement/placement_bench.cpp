// pier-placement-bench: placements per second of the scheduler's pure `place()` on synthetic states —
// H up hosts (8 cpus, 32 GiB each) and A apps x R replicas, none placed yet — against the reference
// placement kept below (the scheduler's before issue 16), in the same run. Also the growth: the same
// 100 x 100 instances on 10, 100 and 1,000 hosts. Both must make the same plan, or it fails.
//   pier-placement-bench [ROUNDS]      (default 3)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/states.h"
#include "services/scheduler/placement.h"

namespace pier {
namespace {

// The scheduler's place() as it was before issue 16 (a std::map of hosts with a std::map of counts
// per app each, and every host listed in an unplaced instance's reason): the baseline.
namespace reference {

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

scheduler::Plan place(const msg::State& state, double cpu_overcommit = 4.0) {
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
  const auto capacity = [&](const HostLoad& load) { return load.host->cpus * cpu_overcommit; };
  scheduler::Plan plan;
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
      std::string reason = "no host has room for " + describe(spec.cpu, spec.memory_bytes) + " (";
      for (const auto& [id, load] : hosts)
        reason += id + ": " + describe(capacity(load) - load.cpu, load.host->memory_bytes - load.memory) + " free, ";
      plan.unplaced.push_back({i.id, reason + ")"});
      continue;
    }
    best->cpu += spec.cpu;
    best->memory += spec.memory_bytes;
    best->per_app[spec.name] += 1;
    plan.assignments.push_back({i.id, best->host->id});
  }
  return plan;
}

}  // namespace reference

msg::State synthetic(int hosts, int apps, int replicas) {
  msg::State state;
  for (int h = 0; h < hosts; ++h) {
    msg::HostRecord host;
    host.id = "host-" + std::to_string(h);
    host.cpus = 8;
    host.memory_bytes = 32LL << 30;
    host.subnet = "10.208." + std::to_string(h / 256) + "." + std::to_string(h % 256) + "/24";
    state.hosts.push_back(host);
  }
  for (int a = 0; a < apps; ++a) {
    msg::AppRecord app;
    app.spec.name = "app-" + std::to_string(a);
    app.spec.cpu = 0.25;
    app.spec.memory_bytes = 128LL << 20;
    state.apps.push_back(app);
    for (int r = 0; r < replicas; ++r) {
      msg::InstanceRecord instance;
      instance.id = app.spec.name + "-" + std::to_string(r + 1);
      instance.app = app.spec.name;
      state.instances.push_back(instance);
    }
  }
  return state;
}

// Placements per second of `place` on `state` (best of `rounds`), and the plan.
std::pair<double, scheduler::Plan> rate(const std::function<scheduler::Plan(const msg::State&)>& place,
                                        const msg::State& state, int rounds) {
  double best = 0;
  scheduler::Plan plan;
  for (int r = 0; r < rounds; ++r) {
    const auto start = std::chrono::steady_clock::now();
    plan = place(state);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, static_cast<double>(plan.assignments.size()) / s);
  }
  return {best, plan};
}

// The same instances on the same hosts, and the same ones left unplaced (their reasons may differ:
// place() names fewer hosts in them).
bool same_plan(const scheduler::Plan& a, const scheduler::Plan& b) {
  if (a.assignments.size() != b.assignments.size() || a.unplaced.size() != b.unplaced.size()) return false;
  for (std::size_t i = 0; i < a.assignments.size(); ++i)
    if (a.assignments[i].instance != b.assignments[i].instance || a.assignments[i].host != b.assignments[i].host)
      return false;
  for (std::size_t i = 0; i < a.unplaced.size(); ++i)
    if (a.unplaced[i].instance != b.unplaced[i].instance) return false;
  return true;
}

}  // namespace
}  // namespace pier

int main(int argc, char** argv) {
  using namespace pier;
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 3;
  const auto current = [](const msg::State& s) { return scheduler::place(s); };
  const auto baseline = [](const msg::State& s) { return reference::place(s); };
  std::printf("%-28s %14s %14s %8s\n", "state", "place() /s", "reference /s", "ratio");
  for (int hosts : {10, 100, 1000}) {
    // 10 hosts hold 10 x 8 x 4 / 0.25 = 1,280 instances: the rest is unplaced (and its reasons built).
    const msg::State state = synthetic(hosts, 100, 100);
    const auto [now, plan] = rate(current, state, rounds);
    const auto [before, reference_plan] = rate(baseline, state, rounds);
    if (!same_plan(plan, reference_plan)) {
      std::printf("%d hosts: place() and the reference disagree\n", hosts);
      return 1;
    }
    std::printf("%4d hosts, 100 x 100 (%5zu) %14.0f %14.0f %8.2f\n", hosts, plan.assignments.size(), now, before,
                now / before);
  }
  return 0;
}
