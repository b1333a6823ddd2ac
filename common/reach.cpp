#include "common/reach.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "common/lb_summary.h"
#include "common/states.h"

namespace pier::reach {
namespace {

bool contains(const std::vector<std::string>& list, const std::string& id) {
  return std::find(list.begin(), list.end(), id) != list.end();
}

}  // namespace

std::vector<Fault> faults(const msg::State& state, const std::string& judge) {
  struct Judge {
    const msg::HostRecord* host;
    std::vector<msg::LbApp> apps;
  };
  std::vector<Judge> judges;
  for (const auto& h : state.hosts)
    if (h.status == states::host::kUp && h.lb.reports_servers_up) judges.push_back({&h, lb::apps(h.lb)});
  std::map<std::string, const msg::InstanceRecord*> running;
  for (const auto& i : state.instances)
    if (i.state == states::instance::kRunning) running[i.id] = &i;
  std::vector<Fault> out;
  for (const Judge& j : judges) {
    if (!judge.empty() && j.host->id != judge) continue;
    for (const msg::LbApp& app : j.apps) {
      for (const auto& id : app.down) {
        auto it = running.find(id);
        if (it == running.end()) continue;
        Fault f{j.host->id, id, it->second->host, {}};
        for (const Judge& other : judges) {
          if (&other == &j) continue;
          // Up there: it lists the same servers of the app and names every one it finds down.
          const msg::LbApp* there = lb::find(other.apps, app.app);
          if (there != nullptr && there->digest == app.digest &&
              there->down.size() == static_cast<std::size_t>(there->listed - there->up) && !contains(there->down, id))
            f.seen_up_from.push_back(other.host->id);
        }
        if (!f.seen_up_from.empty()) out.push_back(std::move(f));
      }
    }
  }
  std::sort(out.begin(), out.end(),
            [](const Fault& a, const Fault& b) { return std::tie(a.host, a.instance) < std::tie(b.host, b.instance); });
  return out;
}

std::string describe(const Fault& fault) {
  std::string others;
  for (const auto& h : fault.seen_up_from) others += (others.empty() ? "" : ", ") + h;
  return fault.host + "'s HAProxy finds " + fault.instance + " (on " + fault.instance_host + ") down; " + others +
         (fault.seen_up_from.size() == 1 ? " finds" : " find") + " it up";
}

bool same_reachability(const std::vector<msg::PeerReach>& a, const std::vector<msg::PeerReach>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const msg::PeerReach& x, const msg::PeerReach& y) {
    return x.host == y.host && x.reachable == y.reachable && x.error == y.error;
  });
}

}  // namespace pier::reach
