#include "services/agent/agent.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <zmq.hpp>

#include "common/codec.h"
#include "common/lb_summary.h"
#include "common/reach.h"
#include "common/topics.h"

namespace pier::agent {

Agent::Agent(AgentOptions options, HostFacts facts, std::string runtime_kind, std::string haproxy_socket,
             Handoff& handoff, const Clock& clock)
    : options_(std::move(options)),
      facts_(std::move(facts)),
      runtime_kind_(std::move(runtime_kind)),
      haproxy_socket_(std::move(haproxy_socket)),
      handoff_(handoff),
      clock_(clock),
      started_ms_(clock.now_ms()),
      follower_(clock, options_.snapshot_request_ms),
      heartbeats_(options_.heartbeat_ms) {}

Status Agent::handle(const bus::Envelope& envelope) {
  const bool had_state = follower_.has_state();
  if (auto took = follower_.take(envelope.topic, envelope.body)) {
    if (!took->ok()) return took->status();
    if (!state::changed(**took)) return Status::Ok();
    const msg::State& state = follower_.state();
    if (!had_state) spdlog::info("first state received (revision {}) on host {}", state.revision, options_.host_id);
    if (!refusal_.empty() &&
        std::any_of(state.hosts.begin(), state.hosts.end(), [&](const auto& h) { return h.id == options_.host_id; })) {
      spdlog::info("the registry accepts host {} now", options_.host_id);
      refusal_.clear();
    }
    log_reach_faults(state);
    if (!options_.overlay.mode.empty()) handoff_.overlay_state.put(state);
    handoff_.state.put(state);
    return Status::Ok();
  }
  if (envelope.topic == topic::kLbSpec) {
    auto update = codec::decode<msg::LbSpecUpdate>(envelope.body);
    if (!update.ok()) return update.status();
    return take_lb_spec(*update);
  }
  if (envelope.topic == topic::lb_config(options_.host_id)) {
    auto config = codec::decode<msg::LbConfig>(envelope.body);
    if (!config.ok()) return config.status();
    if (config->host_id != options_.host_id)
      return Status::Invalid("host_id", "must be this host's id (" + options_.host_id + ")");
    if (!lb_spec_.hash.empty()) return Status::Ok();  // it renders its own from lb.spec
    handoff_.lb_config.put(LbOrder{std::move(*config), {}});
    return Status::Ok();
  }
  if (envelope.topic == topic::reply_to("agent/" + options_.host_id)) {
    // The registry answers a heartbeat only to refuse it: once per reason in the log, not once a beat.
    auto reply = codec::decode<msg::Reply>(envelope.body);
    if (!reply.ok()) return reply.status();
    if (!reply->ok && reply->message != refusal_) {
      spdlog::error(
          "the registry refuses host {}: {} (it runs nothing here until that is fixed; pier hosts "
          "lists it as refused)",
          options_.host_id, reply->message);
      refusal_ = reply->message;
    }
    return Status::Ok();
  }
  return Status::Ok();  // a topic we did not ask for: ignore
}

Status Agent::take_lb_spec(const msg::LbSpecUpdate& update) {
  const std::string before = lb_spec_.hash;
  if (Status s = lb::apply(lb_spec_, update); !s.ok()) {
    // Not a malformed message: one missed on the way (PUB/SUB drops under load), or a spec lbgen built
    // from what this agent does not hold. The whole spec puts it right.
    if (lb_resync_.empty())
      spdlog::info("lb spec update to {} does not apply on host {} ({}): asking lbgen for the whole spec", update.hash,
                   options_.host_id, s.message());
    lb_resync_ = s.field() == "base" ? "gap" : "mismatch";
    return Status::Ok();
  }
  if (update.base.empty()) lb_resync_.clear();
  if (lb_spec_.hash == before) return Status::Ok();
  if (before.empty())
    spdlog::info(
        "lb spec {} received on host {} (state revision {}, {} backends): this host renders its own "
        "haproxy.cfg",
        lb_spec_.hash, options_.host_id, lb_spec_.state_revision, lb_spec_.backends.size());
  LbOrder order;
  order.config.host_id = options_.host_id;
  order.config.state_revision = lb_spec_.state_revision;
  order.config.spec = lb::for_host(lb_spec_, options_.host_id, options_.address, haproxy_socket_, options_.stats_port);
  order.template_text = lb_spec_.template_text;
  handoff_.lb_config.put(std::move(order));
  return Status::Ok();
}

void Agent::log_reach_faults(const msg::State& state) {
  std::set<std::string> now;
  for (const auto& f : reach::faults(state, options_.host_id)) {
    now.insert(f.instance);
    if (!logged_faults_.count(f.instance))
      spdlog::warn("overlay fault? {} (pier hosts shows which peers this host reaches)", reach::describe(f));
  }
  for (const auto& id : logged_faults_)
    if (!now.count(id)) spdlog::info("this host's HAProxy finds {} up again, or no longer lists it", id);
  logged_faults_ = std::move(now);
}

msg::HostStatus Agent::host_status() const {
  msg::HostStatus status;
  status.host_id = options_.host_id;
  status.hostname = facts_.hostname;
  status.address = options_.address;
  status.cpus = facts_.cpus;
  status.memory_bytes = facts_.memory_bytes;
  status.runtime = runtime_kind_;
  status.haproxy_socket = haproxy_socket_;
  status.stats_port = options_.stats_port;
  status.started_ms = started_ms_;
  status.instances = handoff_.instances.get().statuses;
  status.lb = lb::for_wire(handoff_.lb.get());  // per app: the server lists stay with the agent
  status.overlay = options_.overlay;
  status.peers = handoff_.peers.get();
  status.renders_lb = true;
  return status;
}

void Agent::watch(const Worker& worker) { watched_.push_back({&worker, StallWatch(options_.stuck_worker_ms)}); }

void Agent::check_workers(int64_t now) {
  for (auto& [worker, watch] : watched_) {
    const auto event = watch.observe(worker->progress().busy_since(), now);
    if (!event) continue;
    if (event->stuck)
      spdlog::warn("agent {} worker on host {} stuck for {} ms in one step ({}); heartbeats go on", worker->name(),
                   options_.host_id, event->ms, worker->work());
    else
      spdlog::info("agent {} worker on host {} free again after a {} ms step", worker->name(), options_.host_id,
                   event->ms);
  }
}

std::vector<Outgoing> Agent::tick() {
  std::vector<Outgoing> out;
  const int64_t now = clock_.steady_ms();
  check_workers(now);
  if (follower_.should_ask())
    out.push_back({std::string(topic::kSnapshot), codec::encode(msg::SnapshotRequest{follower_.ask_reason()})});
  const std::string resync = lb_spec_.hash.empty() ? "start" : lb_resync_;
  if (!resync.empty() && (last_lb_resync_ < 0 || now - last_lb_resync_ >= options_.snapshot_request_ms)) {
    out.push_back({topic::lb_resync(options_.host_id),
                   codec::encode(msg::LbSpecRequest{options_.host_id, lb_spec_.hash, resync})});
    last_lb_resync_ = now;
    lb_resync_.clear();  // the next update that does not apply asks again
  }
  // Changes counted before the statuses are read: a change that lands in between is sent now and
  // once more at the next turn, never lost.
  const uint64_t changes = handoff_.instances.changes() + handoff_.lb.changes() + handoff_.peers.changes();
  if (heartbeats_.due(now, changes != reported_changes_)) {
    reported_changes_ = changes;
    out.push_back({topic::heartbeat(options_.host_id), codec::encode(host_status())});
    if (const auto gap = heartbeats_.sent(now))
      spdlog::warn("heartbeat late: {} ms since the previous one (period {} ms)", *gap, heartbeats_.period_ms());
  }
  if (auto sample = handoff_.sample.take()) out.push_back({topic::sample(options_.host_id), std::move(*sample)});
  return out;
}

void Agent::step(bus::Subscriber& subscriber, bus::Publisher& publisher, int max_wait_ms) {
  const int wait = static_cast<int>(std::min<int64_t>(max_wait_ms, heartbeats_.wait_ms(clock_.steady_ms())));
  // Until a message comes, a worker's status changes (its heartbeat leaves now) or the wait ends.
  zmq::pollitem_t items[] = {{subscriber.socket().handle(), 0, ZMQ_POLLIN, 0},
                             {nullptr, handoff_.changed.fd(), ZMQ_POLLIN, 0}};
  try {
    zmq::poll(items, 2, std::chrono::milliseconds(wait));
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) throw;  // a signal: the caller's loop looks at why
  }
  if (items[1].revents & ZMQ_POLLIN) handoff_.changed.clear();
  for (int i = 0; i < 100; ++i) {
    auto envelope = subscriber.receive(0);
    if (!envelope) break;
    if (Status s = handle(*envelope); !s.ok()) subscriber.reject(*envelope, s);
  }
  for (const auto& out : tick()) publisher.publish_encoded(out.topic, out.body, {});
}

}  // namespace pier::agent
