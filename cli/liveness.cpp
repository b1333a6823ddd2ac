#include "cli/liveness.h"

#include <algorithm>
#include <set>

#include "common/lb_summary.h"
#include "common/states.h"

namespace pier::cli {

bool belongs_to(const std::string& id, const std::string& app) {
  const long long n = states::instance_serial(id);
  return n >= 0 && id == states::instance_id(app, n);
}

std::string Liveness::summary() const {
  std::string s = std::to_string(running) + "/" + std::to_string(wanted) + " running";
  if (present > wanted) s += ", " + std::to_string(present - wanted) + " to remove";
  return s;
}

std::string rollout_line(const msg::AppRecord& app) {
  const msg::Rollout& r = app.rollout;
  const std::string to = " to revision " + std::to_string(r.to_revision);
  if (r.under_way())
    return (r.state == states::rollout::kRolling ? "rolling" : "rolling back") + to + ": " + std::to_string(r.ready) +
           "/" + std::to_string(app.spec.replicas) + " new instances healthy" +
           (r.reason.empty() ? "" : " (" + r.reason + ")");
  if (r.state == states::rollout::kRolledBack) return "rolled back" + to + ": " + r.reason;
  if (r.state == states::rollout::kStuck) return "rollout stuck: " + r.reason;
  return "";
}

Liveness assess(const msg::State& state, const std::string& app, int wanted, int64_t since_revision) {
  Liveness l;
  l.wanted = wanted;
  std::set<std::string> ids;
  std::vector<std::string> failed, pending, starting, rollout;
  int64_t revision = 0;
  for (const auto& a : state.apps) {
    if (a.spec.name != app) continue;
    revision = a.revision;
    const std::string line = rollout_line(a);
    const bool ended_badly =
        a.rollout.state == states::rollout::kRolledBack || a.rollout.state == states::rollout::kStuck;
    if (ended_badly && std::max(a.rollout.from_revision, a.rollout.to_revision) >= since_revision)
      l.rollout_failed = line;
    else if (a.rollout.under_way())
      rollout.push_back(line);
  }
  for (const auto& i : state.instances) {
    // A draining instance is on its way out: not one of the app's instances.
    if (i.app != app || i.state == states::instance::kDraining) continue;
    if (i.revision != 0 && revision != 0 && i.revision != revision) {
      ++l.present;
      starting.push_back(i.id + " of revision " + std::to_string(i.revision) + ", to be replaced");
      continue;
    }
    ++l.present;
    ids.insert(i.id);
    if (i.state == states::instance::kRunning) {
      ++l.running;
    } else if (i.state == states::instance::kFailed) {
      ++l.failed;
      failed.push_back(i.id + " failed" + (i.reason.empty() ? "" : ": " + i.reason));
    } else if (i.state == states::instance::kPending && !i.reason.empty()) {
      pending.push_back(i.id + " pending: " + i.reason);
    } else {
      starting.push_back(i.id + " " + i.state);
    }
  }
  const std::string wanted_digest = lb::servers_digest({ids.begin(), ids.end()});
  std::vector<std::string> hosts;
  for (const auto& h : state.hosts) {
    if (h.status != states::host::kUp) continue;
    const auto apps = lb::apps(h.lb);
    const msg::LbApp* serving = lb::find(apps, app);
    const int listed = serving != nullptr ? serving->listed : 0;
    if (ids.empty() ? listed != 0 : serving == nullptr || serving->digest != wanted_digest) {
      std::string why =
          "host " + h.id + " serves " + std::to_string(listed) + " of " + std::to_string(ids.size()) + " instances";
      if (!h.lb.error.empty()) why += " (HAProxy config rejected: " + h.lb.error + ")";
      hosts.push_back(why);
      continue;
    }
    // An agent older than servers_up: listed is all it tells.
    if (!h.lb.reports_servers_up || serving == nullptr || serving->up == serving->listed) continue;
    std::string why = "host " + h.id + "'s HAProxy checks find " + std::to_string(serving->up) + " of " +
                      std::to_string(ids.size()) + " instances up (not yet: ";
    for (std::size_t i = 0; i < serving->down.size(); ++i) why += (i ? ", " : "") + serving->down[i];
    const int unnamed = serving->listed - serving->up - static_cast<int>(serving->down.size());
    if (unnamed > 0) why += " and " + std::to_string(unnamed) + " more";
    hosts.push_back(why + ")");
  }
  for (auto* list : {&rollout, &failed, &pending, &starting, &hosts})
    l.waiting_on.insert(l.waiting_on.end(), list->begin(), list->end());
  l.live = l.present == wanted && l.running == wanted && hosts.empty() && rollout.empty();
  return l;
}

std::vector<std::string> ProgressTracker::update(const msg::State& state) {
  std::vector<std::string> lines;
  std::set<std::string> present;
  for (const auto& i : state.instances) {
    if (i.app != app_) continue;
    present.insert(i.id);
    std::string line;
    if (i.state == states::instance::kRunning) {
      line = " \u2714 " + i.id + "  running  " + i.ip + "  " + i.host;
    } else if (i.state == states::instance::kFailed) {
      line = " \u2718 " + i.id + "  failed" + (i.reason.empty() ? "" : "  " + i.reason);
    } else {
      line = " \u2026 " + i.id + "  " + i.state;
      if (!i.host.empty()) line += "  " + i.ip + "  " + i.host;
      if (!i.reason.empty()) line += "  " + i.reason;
    }
    auto& last = last_[i.id];
    if (last != line) {
      last = line;
      lines.push_back(line);
    }
  }
  for (auto it = last_.begin(); it != last_.end();) {
    if (present.count(it->first)) {
      ++it;
      continue;
    }
    lines.push_back(" \u2714 " + it->first + "  removed");
    it = last_.erase(it);
  }
  return lines;
}

std::string final_line(const msg::State& state, const std::string& app, int wanted) {
  if (wanted == 0) {
    bool exists = std::any_of(state.apps.begin(), state.apps.end(), [&](const auto& a) { return a.spec.name == app; });
    return app + (exists ? ": 0/0 running" : ": removed");
  }
  const Liveness l = assess(state, app, wanted);
  std::string line = app + ": " + l.summary();
  for (const auto& a : state.apps) {
    if (a.spec.name != app || a.spec.ports.empty()) continue;
    line += ", serving on ";
    for (std::size_t i = 0; i < a.spec.ports.size(); ++i) {
      if (i > 0) line += ", ";
      line += ":" + std::to_string(a.spec.ports[i].external);
      if (a.spec.protocol == "http" && a.spec.context_path != "/") line += a.spec.context_path;
    }
  }
  return line;
}

}  // namespace pier::cli
