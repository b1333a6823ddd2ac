#include "common/reach.h"

#include <algorithm>
#include <tuple>

#include "common/states.h"

namespace pier::reach {
namespace {

bool contains(const std::vector<std::string>& list, const std::string& id) {
  return std::find(list.begin(), list.end(), id) != list.end();
}

}  // namespace

std::vector<Fault> faults(const msg::State& state, const std::string& judge) {
  std::vector<const msg::HostRecord*> judges;
  for (const auto& h : state.hosts)
    if (h.status == states::host::kUp && h.lb.reports_servers_up) judges.push_back(&h);
  std::vector<Fault> out;
  for (const msg::HostRecord* h : judges) {
    if (!judge.empty() && h->id != judge) continue;
    for (const auto& i : state.instances) {
      if (i.state != states::instance::kRunning || !contains(h->lb.servers, i.id) || contains(h->lb.servers_up, i.id))
        continue;
      Fault f{h->id, i.id, i.host, {}};
      for (const msg::HostRecord* other : judges)
        if (other != h && contains(other->lb.servers_up, i.id)) f.seen_up_from.push_back(other->id);
      if (!f.seen_up_from.empty()) out.push_back(std::move(f));
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
