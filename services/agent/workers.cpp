#include "services/agent/workers.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <set>

#include "common/codec.h"
#include "common/lb_render.h"
#include "common/net.h"
#include "common/reach.h"

namespace pier::agent {

Worker::Worker(std::string name, std::string work, std::function<void(std::stop_token, Progress&)> loop)
    : name_(std::move(name)), work_(std::move(work)), thread_([this, loop = std::move(loop)](std::stop_token stop) {
        try {
          loop(stop, progress_);
        } catch (const std::exception& e) {
          // Nothing the workers call should throw; if it does, say so once rather than end the agent.
          spdlog::error("agent {} worker ended: {}", name_, e.what());
        }
      }) {}

void Worker::stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  thread_.join();
}

namespace {

InstancesView view_of(const Reconciler& reconciler) {
  InstancesView view;
  view.statuses = reconciler.statuses();
  for (auto& p : reconciler.processes()) view.processes.push_back({std::move(p.id), std::move(p.app), p.pid});
  return view;
}

}  // namespace

std::unique_ptr<Worker> start_instances_worker(Reconciler& reconciler, Handoff& handoff, const Clock& clock,
                                               int64_t tick_ms) {
  handoff.instances.set(view_of(reconciler), false);  // what it adopted, before the first tick
  return std::make_unique<Worker>("instances", "runtime calls, health probes, drain checks",
                                  [&, tick_ms](std::stop_token stop, Progress& progress) {
                                    while (!stop.stop_requested()) {
                                      auto state = handoff.state.take(stop, tick_ms);
                                      progress.begin(clock.steady_ms());
                                      if (state) reconciler.on_state(*state);
                                      reconciler.set_lb_servers(handoff.lb.get().servers);
                                      const bool changed = reconciler.tick();
                                      handoff.instances.set(view_of(reconciler), changed);
                                      progress.end();
                                    }
                                  });
}

namespace {

// Renders an order of the fleet's spec first; an order lbgen rendered goes as it is.
bool apply(LbApplier& lb, LbOrder order) {
  if (order.template_text.empty()) return lb.apply(order.config);
  auto text = lb::render(order.config.spec, order.template_text);
  if (!text.ok()) return lb.refuse(order.config, text.status().message());
  order.config.haproxy_cfg = std::move(*text);
  order.config.hash = lb::config_hash(order.config.haproxy_cfg);
  return lb.apply(order.config);
}

}  // namespace

std::unique_ptr<Worker> start_haproxy_worker(LbApplier& lb, Handoff& handoff, const Clock& clock, int64_t tick_ms) {
  handoff.lb.set(lb.status(), false);  // what an adopted master runs, before the first step
  return std::make_unique<Worker>("haproxy", "haproxy -c and load steps, Runtime API calls",
                                  [&, tick_ms](std::stop_token stop, Progress& progress) {
                                    while (!stop.stop_requested()) {
                                      // A check or a load in progress ends when HAProxy says so: look often.
                                      auto order = handoff.lb_config.take(stop, lb.busy() ? 5 : tick_ms);
                                      progress.begin(clock.steady_ms());
                                      bool changed = order && apply(lb, std::move(*order));
                                      if (lb.tick()) changed = true;
                                      handoff.lb.set(lb.status(), changed);
                                      progress.end();
                                    }
                                  });
}

std::unique_ptr<Worker> start_sample_worker(std::string host_id, Sampler& sampler, LbFigures* figures, Handoff& handoff,
                                            const Clock& clock, int64_t sample_ms) {
  return std::make_unique<Worker>(
      "sample", "/proc reads, HAProxy stats socket",
      [&, figures, sample_ms, host_id = std::move(host_id)](std::stop_token stop, Progress& progress) {
        std::mutex mutex;
        std::condition_variable_any wake;  // only the stop token wakes it
        int64_t next = clock.steady_ms();
        while (!stop.stop_requested()) {
          const int64_t now = clock.steady_ms();
          if (now < next) {
            std::unique_lock lock(mutex);
            wake.wait_for(lock, stop, std::chrono::milliseconds(next - now), [] { return false; });
            continue;
          }
          progress.begin(now);
          msg::HostSample sample = sampler.sample(host_id, handoff.instances.get().processes, clock.now_ms(), now);
          if (figures != nullptr) sample.apps = figures->sample(now);
          handoff.sample.put(codec::encode(sample));
          next = now + sample_ms;
          progress.end();
        }
      });
}

namespace {

// The probe address (overlay_plan.h) of this host's subnet in `state`, where peers' checks come; "" while
// it has none.
std::string own_probe_address(const msg::State& state, const std::string& host_id) {
  for (const auto& h : state.hosts) {
    if (h.id != host_id) continue;
    auto subnet = net::parse_cidr(h.subnet);
    return subnet.ok() ? net::format_ipv4(probe_address(*subnet)) : "";
  }
  return "";
}

}  // namespace

std::unique_ptr<Worker> start_overlay_worker(Overlay& overlay, ProbeListener& listener, Handoff& handoff,
                                             const Clock& clock, OverlayWorkerOptions options) {
  return std::make_unique<Worker>(
      "overlay", "netlink writes, peer checks, iptables", [&, options](std::stop_token stop, Progress& progress) {
        const std::string& me = overlay.config().host_id;
        std::optional<msg::State> latest;
        std::vector<msg::PeerReach> reported;
        std::set<std::string> unreachable_logged;
        int64_t next_probe = clock.steady_ms();
        int64_t next_firewall = clock.steady_ms();
        std::string own_subnet;
        while (!stop.stop_requested()) {
          auto state = handoff.overlay_state.take(stop, std::max<int64_t>(1, next_probe - clock.steady_ms()));
          progress.begin(clock.steady_ms());
          if (state) {
            latest = std::move(*state);
            overlay.apply(*latest);  // logs its own errors and refusals, once each
            for (const auto& h : latest->hosts) {
              if (h.id != me || h.subnet.empty() || h.subnet == own_subnet) continue;
              if (options.on_subnet)
                if (Status s = options.on_subnet(h.subnet); !s.ok()) {
                  spdlog::error("host subnet {}: {}; trying again at the next state", h.subnet, s.message());
                  continue;
                }
              own_subnet = h.subnet;
              next_firewall = clock.steady_ms();
            }
            if (const std::string address = own_probe_address(*latest, me); !address.empty())
              if (Status s = listener.listen(address, overlay.config().probe_port); !s.ok())
                spdlog::error("overlay: cannot answer peers' checks on {}:{}: {}", address, overlay.config().probe_port,
                              s.message());
          }
          if (options.firewall != nullptr && !own_subnet.empty() && clock.steady_ms() >= next_firewall) {
            auto applied = options.firewall->apply({options.firewall_networks, own_subnet});
            if (!applied.ok())
              spdlog::error("docker firewall for subnet {}: {}", own_subnet, applied.status().message());
            next_firewall = clock.steady_ms() + options.firewall_ms;
          }
          if (latest && clock.steady_ms() >= next_probe) {
            auto peers = probe_peers(probe_targets(*latest, me, overlay.refused()), options.probe_timeout_ms);
            for (const auto& p : peers) {
              if (!p.reachable && unreachable_logged.insert(p.host).second)
                spdlog::warn("overlay: host {} does not reach peer {} through the overlay: {}", me, p.host, p.error);
              if (p.reachable && unreachable_logged.erase(p.host))
                spdlog::info("overlay: host {} reaches peer {} again", me, p.host);
            }
            const bool changed = !reach::same_reachability(peers, reported);
            reported = peers;
            handoff.peers.set(std::move(peers), changed);
            next_probe = clock.steady_ms() + options.probe_ms;
          }
          progress.end();
        }
      });
}

}  // namespace pier::agent
