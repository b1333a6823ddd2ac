#include "bench/hollow/hollow.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <unordered_map>

#include "common/codec.h"
#include "common/lb_fleet.h"
#include "common/lb_summary.h"
#include "common/net.h"
#include "common/states.h"
#include "common/topics.h"

namespace pier::hollow {

namespace instance_state = states::instance;

namespace {

// What a hollow HAProxy running the servers `names` reports: every one listed and answering its check,
// summed up per app as a real agent's heartbeat carries it; and the digest of the names.
struct Served {
  msg::LbStatus status;
  std::string digest;
};

Served serving(const std::set<std::string>& names, const std::string& hash, int64_t state_revision) {
  msg::LbStatus full;
  full.hash = hash;
  full.state_revision = state_revision;
  full.servers.assign(names.begin(), names.end());
  full.servers_up = full.servers;
  full.reports_servers_up = true;
  std::string digest = lb::servers_digest(full.servers);
  return {lb::for_wire(std::move(full)), std::move(digest)};
}

}  // namespace

HollowFleet::HollowFleet(Options options, const Clock& clock)
    : options_(std::move(options)), clock_(clock), follower_(clock) {
  const int64_t now = clock_.steady_ms();
  hosts_.resize(static_cast<std::size_t>(options_.hosts));
  for (int i = 0; i < options_.hosts; ++i) {
    Host& h = hosts_[static_cast<std::size_t>(i)];
    h.id = options_.prefix + std::to_string(options_.first + i);
    h.started_ms = clock_.now_ms();
    // Phased as a fleet's agents are: started at different moments, not in one burst a period.
    const int64_t phase = options_.heartbeat_ms * i / std::max(1, options_.hosts);
    h.next_heartbeat_ms = now + phase;
    h.next_sample_ms = now + options_.sample_ms * i / std::max(1, options_.hosts);
    index_[h.id] = static_cast<std::size_t>(i);
  }
  figures_.hosts = options_.hosts;
}

Status HollowFleet::handle(const std::string& topic, const std::string& body) {
  if (auto took = follower_.take(topic, body)) {
    if (!took->ok()) return took->status();
    if (topic == topic::kStateFull) {
      ++figures_.states;
      figures_.state_bytes = static_cast<int64_t>(body.size());
      figures_.state_full_bytes += static_cast<int64_t>(body.size());
    } else {
      ++figures_.state_deltas;
      figures_.state_delta_bytes += static_cast<int64_t>(body.size());
    }
    if (state::changed(**took)) apply_state(follower_.state());
    return Status::Ok();
  }
  const auto host_of = [&](std::string_view prefix) -> Host* {
    if (topic.rfind(prefix, 0) != 0) return nullptr;
    auto it = index_.find(topic.substr(prefix.size()));
    return it == index_.end() ? nullptr : &hosts_[it->second];
  };
  if (topic == topic::kLbSpec) {
    auto update = codec::decode<msg::LbSpecUpdate>(body);
    if (!update.ok()) return update.status();
    ++figures_.lb_specs;
    figures_.lb_spec_bytes += static_cast<int64_t>(body.size());
    take_lb_spec(*update);
    return Status::Ok();
  }
  if (Host* host = host_of(topic::kLbConfigPrefix)) {
    auto config = codec::decode<msg::LbConfig>(body);
    if (!config.ok()) return config.status();
    ++figures_.lb_configs;
    figures_.lb_bytes += static_cast<int64_t>(body.size());
    // As a real agent: a rendered config (an lbgen older than lb.spec) only while no spec is held.
    if (!lb_spec_.hash.empty() || config->hash == host->lb.hash) return Status::Ok();
    std::set<std::string> names;
    for (const auto& backend : config->spec.backends)
      for (const auto& server : backend.servers) names.insert(server.name);
    Served served = serving(names, config->hash, config->state_revision);
    served.status.reloads = host->lb.reloads + 1;
    host->lb = std::move(served.status);
    host->lb_servers = std::move(served.digest);
    host->changed = true;
    return Status::Ok();
  }
  if (Host* host = host_of(topic::reply_to("agent/"))) {
    auto reply = codec::decode<msg::Reply>(body);
    if (!reply.ok()) return reply.status();
    if (!reply->ok) host->refusal = reply->message;
    return Status::Ok();
  }
  return Status::Ok();
}

void HollowFleet::take_lb_spec(const msg::LbSpecUpdate& update) {
  const std::string before = lb_spec_.hash;
  if (!lb::apply(lb_spec_, update).ok()) {
    lb_resync_ = true;  // a missed update: tick() asks for the whole spec
    return;
  }
  if (update.base.empty()) lb_resync_ = false;
  if (lb_spec_.hash == before) return;
  // Every hollow host holds the same spec (each real agent would hold its own copy of it): its servers
  // are summed up once and every host's HAProxy "runs" them, each answering its check.
  std::set<std::string> names;
  for (const auto& [name, entry] : lb_spec_.backends)
    for (const auto& server : entry.backend.servers) names.insert(server.name);
  const Served served = serving(names, lb_spec_.hash, lb_spec_.state_revision);
  for (Host& host : hosts_) {
    const int64_t reloads = host.lb.reloads + 1;
    host.lb = served.status;
    host.lb.reloads = reloads;
    host.lb_servers = served.digest;
    host.changed = true;
  }
}

void HollowFleet::apply_state(const msg::State& state) {
  const int64_t now = clock_.steady_ms();
  figures_.state_revision = state.revision;
  figures_.instances = static_cast<int>(state.instances.size());
  std::unordered_map<std::string, std::vector<const msg::InstanceRecord*>> by_host;
  std::map<std::string, int> running_per_app;
  std::vector<std::string> running;
  bool on_the_way = false;
  for (const auto& i : state.instances) {
    if (!i.host.empty()) by_host[i.host].push_back(&i);
    if (i.state == instance_state::kRunning) {
      running.push_back(i.id);
      ++running_per_app[i.app];
    }
    on_the_way = on_the_way || i.state == instance_state::kPending || i.state == instance_state::kPlaced ||
                 i.state == instance_state::kStarting;
  }
  figures_.running = static_cast<int>(running.size());
  running_digest_ = lb::servers_digest(std::move(running));
  apps_settled_ = !on_the_way && std::all_of(state.apps.begin(), state.apps.end(), [&](const msg::AppRecord& a) {
    return running_per_app[a.spec.name] == a.spec.replicas;
  });

  std::set<std::string> listed;
  for (const auto& h : state.hosts) listed.insert(h.id);
  for (Host& host : hosts_) {
    host.registered = listed.count(host.id) > 0;
    if (host.registered) host.refusal.clear();
    std::set<std::string> wanted;
    for (const msg::InstanceRecord* i : by_host[host.id]) {
      // A draining instance stops at once; a failed or stopped one is not run again here.
      if (i->state != instance_state::kPlaced && i->state != instance_state::kStarting &&
          i->state != instance_state::kRunning)
        continue;
      wanted.insert(i->id);
      auto [it, added] = host.instances.try_emplace(i->id, Instance{i->app, i->ip, now, false});
      host.changed = host.changed || added;
    }
    host.changed = host.changed ||
                   std::erase_if(host.instances, [&](const auto& entry) { return !wanted.count(entry.first); }) > 0;
  }
}

std::vector<Outgoing> HollowFleet::tick() {
  const int64_t now = clock_.steady_ms();
  std::vector<Outgoing> out;
  // The fleet's one copy of the state, asked for while it holds none or missed a delta.
  if (follower_.should_ask())
    out.push_back({std::string(topic::kSnapshot), "hollow",
                   codec::encode(msg::SnapshotRequest{"hollow " + follower_.ask_reason()})});
  // The fleet's one copy of the spec is asked for in the first host's name (each real agent asks in its own).
  if ((lb_spec_.hash.empty() || lb_resync_) && !hosts_.empty() &&
      (last_lb_resync_ms_ < 0 || now - last_lb_resync_ms_ >= kLbResyncEveryMs)) {
    const Host& asker = hosts_.front();
    out.push_back(
        {topic::lb_resync(asker.id), "agent/" + asker.id,
         codec::encode(msg::LbSpecRequest{asker.id, lb_spec_.hash, lb_spec_.hash.empty() ? "start" : "gap"})});
    last_lb_resync_ms_ = now;
    lb_resync_ = false;
  }
  for (Host& host : hosts_) {
    for (auto& [id, instance] : host.instances) {
      if (instance.running || now - instance.seen_ms < options_.start_ms) continue;
      instance.running = true;
      host.changed = true;
    }
    const bool due = now >= host.next_heartbeat_ms;
    if (due || (host.changed && now - host.last_sent_ms >= options_.min_gap_ms)) {
      std::string body = codec::encode(status_of(host));
      ++figures_.heartbeats;
      figures_.heartbeat_bytes += static_cast<int64_t>(body.size());
      out.push_back({topic::heartbeat(host.id), "agent/" + host.id, std::move(body)});
      host.last_sent_ms = now;
      host.changed = false;
      if (due)
        host.next_heartbeat_ms += options_.heartbeat_ms * (1 + (now - host.next_heartbeat_ms) / options_.heartbeat_ms);
    }
    if (options_.sample_ms > 0 && now >= host.next_sample_ms) {
      out.push_back({topic::sample(host.id), "agent/" + host.id, codec::encode(sample_of(host))});
      host.next_sample_ms += options_.sample_ms * (1 + (now - host.next_sample_ms) / options_.sample_ms);
    }
  }
  return out;
}

msg::HostStatus HollowFleet::status_of(const Host& host) const {
  msg::HostStatus s;
  s.host_id = host.id;
  s.hostname = host.id;
  s.address = "127.0.0.1";
  s.cpus = options_.cpus;
  s.memory_bytes = options_.memory_bytes;
  s.runtime = "exec";
  s.haproxy_socket = "/run/pier/hollow/" + host.id + "/haproxy.sock";
  s.stats_port = 8404;
  s.started_ms = host.started_ms;
  int pid = 1000;
  for (const auto& [id, instance] : host.instances) {
    msg::InstanceStatus i;
    i.id = id;
    i.app = instance.app;
    i.state = instance.running ? instance_state::kRunning : instance_state::kStarting;
    i.ip = instance.ip;
    i.pid = ++pid;
    s.instances.push_back(std::move(i));
  }
  s.lb = host.lb;
  s.renders_lb = true;
  if (options_.overlay) {
    // A made-up underlay of 10.255.0.0/16 and a VTEP MAC from the host's position: valid, never routed.
    const auto n = static_cast<uint32_t>(index_.at(host.id));
    s.overlay.mode = "vxlan";
    s.overlay.underlay = net::format_ipv4((10u << 24) | (255u << 16) | ((n + 1) & 0xffff));
    char mac[18];
    std::snprintf(mac, sizeof mac, "0a:58:00:00:%02x:%02x", (n >> 8) & 0xff, n & 0xff);
    s.overlay.vtep_mac = mac;
    s.overlay.vni = 1;
    s.overlay.port = 4789;
    s.overlay.mtu = 1450;
  }
  return s;
}

msg::HostSample HollowFleet::sample_of(const Host& host) const {
  msg::HostSample s;
  s.host_id = host.id;
  s.time_ms = clock_.now_ms();
  s.cpu_percent = 5.0 + static_cast<double>(host.instances.size());
  s.memory_total_bytes = options_.memory_bytes;
  s.memory_used_bytes = static_cast<int64_t>(host.instances.size() + 1) * (64LL << 20);
  s.load1 = 0.1 * static_cast<double>(host.instances.size());
  for (const auto& [id, instance] : host.instances) s.instances.push_back({id, instance.app, 1.0, 32LL << 20});
  return s;
}

Figures HollowFleet::figures() const {
  Figures f = figures_;
  f.registered = 0;
  f.refused = 0;
  f.lb_current = 0;
  for (const Host& host : hosts_) {
    f.registered += host.registered;
    f.refused += !host.refusal.empty();
    f.lb_current += host.registered && host.lb_servers == running_digest_;
  }
  f.converged = apps_settled_ && f.registered == f.hosts && f.lb_current == f.hosts;
  return f;
}

}  // namespace pier::hollow
