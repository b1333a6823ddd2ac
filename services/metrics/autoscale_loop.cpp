#include "services/metrics/autoscale_loop.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/codec.h"
#include "common/states.h"
#include "common/topics.h"

namespace pier::metrics {
namespace {

QueryAnswer error(int status, const std::string& why) { return {status, {{"error", why}}}; }

double or_absent(double v) { return std::isfinite(v) ? v : -1; }

}  // namespace

AutoscaleLoop::AutoscaleLoop(const Clock& clock, Publish publish, DecisionStore* store, LatestFigures* figures,
                             AutoscaleOptions options)
    : clock_(clock),
      publish_(std::move(publish)),
      store_(store),
      figures_(figures),
      options_(options),
      retry_(publish_, clock, options.repeat_ms, options.give_up_ms),
      history_(options.history) {}

void AutoscaleLoop::restore(const std::vector<InstanceRow>& rows, const std::vector<AppDecision>& decisions) {
  std::lock_guard lock(mutex_);
  history_.replay(rows);
  for (const auto& d : decisions) {
    auto& list = decisions_[d.app];
    list.push_back(d.decision);
    while (list.size() > options_.decisions_per_app) list.pop_front();
  }
}

void AutoscaleLoop::on_sample(const msg::HostSample& sample) {
  std::lock_guard lock(mutex_);
  history_.add(sample, clock_.now_ms());
}

void AutoscaleLoop::on_state(const msg::State& state) {
  std::lock_guard lock(mutex_);
  std::map<std::string, AppView> apps;
  for (const auto& a : state.apps) apps[a.spec.name].spec = a.spec;
  for (const auto& i : state.instances) {
    auto it = apps.find(i.app);
    if (it == apps.end() || i.state == states::instance::kDraining) continue;  // leaving: not one the app counts on
    it->second.instances.push_back(i.id);
    if (i.state == states::instance::kRunning)
      ++it->second.running;
    else
      it->second.not_running.insert(i.id);
  }
  apps_ = std::move(apps);
  has_state_ = true;
  state_revision_ = state.revision;
  history_.retain(state);
  std::erase_if(awaiting_revision_, [&](const auto& item) { return item.second <= state.revision; });
}

void AutoscaleLoop::on_reply(const msg::Reply& reply) {
  auto answered = retry_.answer(reply);
  if (!answered) return;  // another command's reply, or a late repeat of one already answered
  if (reply.ok) {
    spdlog::info("{}: scale command accepted (revision {})", answered->key, reply.revision);
    if (reply.revision > state_revision_) awaiting_revision_[answered->key] = reply.revision;
  } else {
    const std::string why = reply.field.empty() ? reply.message : reply.field + ": " + reply.rule;
    spdlog::error("{}: scale command refused: {}", answered->key, why);
    not_applied(answered->key, "refused by pier-registry: " + why);
  }
}

void AutoscaleLoop::tick() {
  for (const auto& given_up : retry_.resend_due()) {
    spdlog::warn("{}: no reply from pier-registry to the scale command within {} ms", given_up.key,
                 options_.give_up_ms);
    not_applied(given_up.key,
                "no reply from pier-registry within " + std::to_string(options_.give_up_ms / 1000) + " s");
  }
  const int64_t steady = clock_.steady_ms();
  if (ticked_once_ && steady - last_tick_ms_ < options_.interval_ms) return;
  ticked_once_ = true;
  last_tick_ms_ = steady;
  const int64_t now = clock_.now_ms();
  std::lock_guard lock(mutex_);
  if (steady - last_prune_ms_ >= std::clamp<int64_t>(options_.decision_retention_ms / 10, 1000, 60'000) ||
      last_prune_ms_ == 0) {
    last_prune_ms_ = steady;
    prune(now);
  }
  decide_all(now);
  publish_figures();
}

void AutoscaleLoop::not_applied(const std::string& app, const std::string& why) {
  std::lock_guard lock(mutex_);
  auto list = decisions_.find(app);
  if (list == decisions_.end() || list->second.empty()) return;
  const Decision& change = list->second.back();
  if (change.desired == change.current) return;
  failed_[app].insert(change.time_ms);
  Decision d;
  d.time_ms = clock_.now_ms();
  d.current = change.current;
  d.desired = change.current;
  d.rule = "not-applied";
  d.inputs = {{"current", change.current}, {"wanted", change.desired}};
  d.explanation = std::to_string(change.current) + " -> " + std::to_string(change.current) +
                  " (not-applied): the scale to " + std::to_string(change.desired) + " was " + why + "; deciding again";
  record(app, d);
}

std::vector<Decision> AutoscaleLoop::previous(const std::string& app) const {
  std::vector<Decision> out;
  auto list = decisions_.find(app);
  if (list == decisions_.end()) return out;
  auto failed = failed_.find(app);
  for (const auto& d : list->second)
    if (failed == failed_.end() || d.desired == d.current || !failed->second.count(d.time_ms)) out.push_back(d);
  return out;
}

void AutoscaleLoop::prune(int64_t now_ms) {
  history_.prune(now_ms);
  const int64_t cutoff = now_ms - options_.decision_retention_ms;
  for (auto it = decisions_.begin(); it != decisions_.end();) {
    auto& list = it->second;
    while (!list.empty() && list.front().time_ms < cutoff) list.pop_front();
    it = list.empty() ? decisions_.erase(it) : std::next(it);
  }
  for (auto& [app, times] : failed_) std::erase_if(times, [&](int64_t t) { return t < cutoff; });
  if (store_ == nullptr) return;
  auto deleted = store_->delete_before(cutoff);
  if (!deleted.ok()) spdlog::error("{}", deleted.status().message());
}

void AutoscaleLoop::decide_all(int64_t now_ms) {
  if (!has_state_) return;
  for (const auto& [name, view] : apps_) {
    msg::AppMetrics aggregate;
    aggregate.app = name;
    aggregate.replicas = view.spec.replicas;
    aggregate.running = view.running;
    if (auto latest = history_.latest(name); latest && now_ms - latest->time_ms <= options_.history.fresh_ms) {
      aggregate.time_ms = latest->time_ms;
      aggregate.instances = latest->instances;
      aggregate.cpu_percent = or_absent(latest->cpu_percent);
      aggregate.requests_per_second = or_absent(latest->requests_per_second);
      aggregate.p95_latency_ms = or_absent(latest->p95_latency_ms);
    }
    publish_(topic::app_metrics(name), codec::encode(aggregate), {});

    const auto& policy = view.spec.autoscale;
    if (!policy.enabled) continue;
    // One command at a time per app, and none until the state shows the last accepted one.
    if (retry_.pending(name) || awaiting_revision_.count(name)) continue;
    auto zone = zones_.get(policy.timezone);
    if (!zone.ok()) {
      if (zone_errors_logged_.insert(name + "/" + policy.timezone).second)
        spdlog::error("{}: not autoscaling: time zone {}: {}", name, policy.timezone, zone.status().message());
      continue;
    }
    auto& earlier = decisions_[name];
    const Decision d = decide(policy, *zone, view.spec.replicas, history_.samples(name, 0), previous(name), now_ms);
    const bool changes = d.desired != d.current;
    if (changes || earlier.empty() || earlier.back().rule != d.rule) record(name, d);
    if (changes) {
      msg::ScaleCommand command{name, d.desired, {}};
      if (d.desired < d.current) command.remove_first = remove_first(name, view, d.desired, now_ms);
      const auto& sent = retry_.send(name, topic::kScale, codec::encode(command));
      spdlog::info("{}: sent scale to {} (request {}){}", name, d.desired, sent.request_id,
                   command.remove_first.empty()
                       ? ""
                       : fmt::format(", removing first [{}]", fmt::join(command.remove_first, ", ")));
    }
  }
  std::erase_if(decisions_, [](const auto& item) { return item.second.empty(); });
}

std::vector<std::string> AutoscaleLoop::remove_first(const std::string& app, const AppView& view, int desired,
                                                     int64_t now_ms) const {
  const int surplus = std::min(static_cast<int>(view.instances.size()) - desired, 1000);
  if (surplus <= 0) return {};
  std::vector<InstanceLoad> idle, serving;
  for (const auto& load : history_.loads(app, view.instances, now_ms))
    (view.not_running.count(load.id) ? idle : serving).push_back(load);
  std::vector<std::string> out = least_busy(idle, surplus);
  for (auto& id : least_busy(serving, surplus - static_cast<int>(out.size()))) out.push_back(std::move(id));
  return out;
}

void AutoscaleLoop::record(const std::string& app, const Decision& d) {
  auto& list = decisions_[app];
  list.push_back(d);
  while (list.size() > options_.decisions_per_app) list.pop_front();
  ++counts_.decisions[{app, d.rule}];
  spdlog::info("{}: {}", app, d.explanation);
  if (store_ != nullptr)
    if (Status s = store_->insert(app, d); !s.ok()) spdlog::error("{}: {}", app, s.message());
  publish_(topic::decision(app),
           codec::encode(msg::AutoscaleDecision{app, d.time_ms, d.current, d.desired, d.rule, d.inputs, d.explanation}),
           {});
}

void AutoscaleLoop::publish_figures() {
  if (figures_ == nullptr) return;
  const int64_t now = clock_.now_ms();
  counts_.app_cpu_percent.clear();
  for (const auto& [name, view] : apps_) {
    auto latest = history_.latest(name);
    if (latest && now - latest->time_ms <= options_.history.fresh_ms && std::isfinite(latest->cpu_percent))
      counts_.app_cpu_percent[name] = latest->cpu_percent;
  }
  figures_->set_autoscale(counts_);
}

QueryAnswer AutoscaleLoop::decisions(const std::string& app, int last) const {
  std::lock_guard lock(mutex_);
  auto view = apps_.find(app);
  auto list = decisions_.find(app);
  const bool has_decisions = list != decisions_.end() && !list->second.empty();
  if (view == apps_.end() && !has_decisions) {
    if (!has_state_) return error(503, "pier-metrics has no state from pier-registry yet");
    return error(404, "app " + app + " not found");
  }
  nlohmann::json out = nlohmann::json::array();
  if (has_decisions) {
    const auto& d = list->second;
    const std::size_t from = d.size() > static_cast<std::size_t>(last) ? d.size() - last : 0;
    for (std::size_t i = from; i < d.size(); ++i) out.push_back(decision_json(app, d[i]));
  }
  return {200,
          {{"app", app},
           {"known", view != apps_.end()},
           {"autoscale_enabled", view != apps_.end() && view->second.spec.autoscale.enabled},
           {"decisions", std::move(out)}}};
}

QueryAnswer AutoscaleLoop::dry_run(const std::string& app) const {
  msg::AutoscalePolicy policy;
  int current = 0;
  std::vector<AppSample> history;
  std::vector<Decision> earlier;
  {
    std::lock_guard lock(mutex_);
    if (!has_state_) return error(503, "pier-metrics has no state from pier-registry yet");
    auto view = apps_.find(app);
    if (view == apps_.end()) return error(404, "app " + app + " not found");
    policy = view->second.spec.autoscale;
    if (!policy.enabled) return error(409, "autoscaling is not enabled for app " + app);
    current = view->second.spec.replicas;
    history = history_.samples(app, 0);
    earlier = previous(app);
  }
  auto zone = zones_.get(policy.timezone);
  if (!zone.ok()) return error(500, "time zone " + policy.timezone + ": " + zone.status().message());
  const Decision d = decide(policy, *zone, current, history, earlier, clock_.now_ms());
  nlohmann::json body = decision_json(app, d);
  body["dry_run"] = true;
  return {200, std::move(body)};
}

}  // namespace pier::metrics
