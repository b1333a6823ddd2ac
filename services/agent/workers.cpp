#include "services/agent/workers.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>

#include "common/codec.h"

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

std::unique_ptr<Worker> start_haproxy_worker(LbApplier& lb, Handoff& handoff, const Clock& clock, int64_t tick_ms) {
  handoff.lb.set(lb.status(), false);  // what an adopted master runs, before the first step
  return std::make_unique<Worker>("haproxy", "haproxy -c, reload waits, Runtime API calls",
                                  [&, tick_ms](std::stop_token stop, Progress& progress) {
                                    while (!stop.stop_requested()) {
                                      auto config = handoff.lb_config.take(stop, tick_ms);
                                      progress.begin(clock.steady_ms());
                                      bool changed = config && lb.apply(*config);
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

}  // namespace pier::agent
