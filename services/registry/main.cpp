// pier-registry: validates and applies commands, records agents' reports, publishes the state.
#include <filesystem>
#include <iostream>

#include "common/bus.h"
#include "common/log.h"
#include "common/options.h"
#include "common/stop_signal.h"
#include "common/topics.h"
#include "services/registry/dispatch.h"
#include "services/registry/publication.h"
#include "services/registry/sqlite_store.h"

int main(int argc, char** argv) {
  using namespace pier;
  namespace po = boost::program_options;
  bus::Endpoints endpoints;
  registry::Config config;
  std::string db_path = "/var/lib/pier/registry.db";
  std::string level;
  registry::PublishOptions publishing;
  po::options_description desc("pier-registry options");
  // clang-format off
  desc.add_options()
      ("db", po::value(&db_path)->default_value(db_path), "SQLite database file (created if missing)")
      ("platform-network", po::value(&config.platform_network)->default_value(config.platform_network),
       "network that exec hosts' subnets and instance IPs come from (loopback: 127.0.0.0/8)")
      ("docker-network", po::value(&config.docker_network)->default_value(config.docker_network),
       "network that docker hosts' subnets (one bridge network per host) come from")
      ("routed-network", po::value(&config.routed_network)->default_value(config.routed_network),
       "network that the subnets of exec hosts on an overlay (pier-agent --overlay) come from")
      ("host-prefix", po::value(&config.host_prefix)->default_value(config.host_prefix),
       "prefix length of each host's subnet")
      ("publish-ms", po::value(&publishing.beacon_ms)->default_value(publishing.beacon_ms),
       "send a state.delta beacon (the last delta's number) this often even without changes")
      ("full-every-ms", po::value(&publishing.full_every_ms)->default_value(publishing.full_every_ms),
       "republish the whole state (state.full) this often even when nobody asks")
      ("full-on-change", po::bool_switch(&publishing.full_on_change),
       "publish every change as state.full too, for readers older than state.delta (2026-12)")
      ("host-down-after-ms", po::value(&config.host_down_after_ms)->default_value(config.host_down_after_ms),
       "mark a host down (and place its instances elsewhere) when no heartbeat came for this long");
  // clang-format on
  options::add_bus(desc, endpoints);
  options::add_log_level(desc, level);
  options::parse_or_exit(
      argc, argv, desc,
      "usage: pier-registry [options]\n\nThe single writer of pier's state: hosts, apps, instances, subnets.");
  log::init("pier-registry", level);
  if (publishing.beacon_ms <= 0 || publishing.full_every_ms <= 0) {
    std::cerr << "error: " << (publishing.beacon_ms <= 0 ? "publish-ms" : "full-every-ms")
              << ": must be a positive number of milliseconds\n";
    return 2;
  }
  if (config.host_down_after_ms <= 0) {
    std::cerr << "error: host-down-after-ms: must be a positive number of milliseconds\n";
    return 2;
  }

  std::unique_ptr<registry::SqliteStore> store;
  std::unique_ptr<registry::Registry> reg;
  SystemClock clock;
  try {
    const auto parent = std::filesystem::path(db_path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
    auto opened = registry::SqliteStore::open(db_path);
    if (!opened.ok()) throw std::runtime_error(opened.status().message());
    store = std::move(*opened);
    reg = std::make_unique<registry::Registry>(*store, clock, config);
  } catch (const std::exception& e) {
    spdlog::error("cannot open the registry database {}: {}", db_path, e.what());
    return 1;
  }
  const auto& loaded = reg->state();
  spdlog::info("registry up: {} (revision {}, {} hosts, {} apps, {} instances)", db_path, loaded.revision,
               loaded.hosts.size(), loaded.apps.size(), loaded.instances.size());

  zmq::context_t context;
  bus::Publisher publisher(context, endpoints, "registry", clock);
  bus::Subscriber subscriber(context, endpoints,
                             {std::string(topic::kCommandPrefix), std::string(topic::kHeartbeatPrefix)});
  stop_signal::install();

  // A stream per run: a reader holding deltas of the registry's last run starts over from a state.full.
  registry::Publication publication(clock, publishing, "registry-" + bus::new_request_id());
  int64_t last_forget = 0;
  while (!stop_signal::requested()) {
    if (clock.steady_ms() - last_forget >= 60'000) {
      if (Status s = reg->forget_requests_older_than(24LL * 3600 * 1000); !s.ok())
        spdlog::warn("cannot prune applied request ids: {}", s.message());
      last_forget = clock.steady_ms();
    }
    bool changed = false;
    bool caught_up = false;  // every waiting message handled: silence now means silence
    // Whatever waits is handled before the state goes out, once: a burst of heartbeats costs one
    // publication (and one render in lbgen, one update in each agent), not one each.
    for (int i = 0; i < registry::kMaxBatch && !stop_signal::requested(); ++i) {
      auto envelope = subscriber.receive(i == 0 ? 100 : 0);
      if (!envelope) {
        caught_up = true;
        break;
      }
      registry::Handled handled = registry::dispatch(*reg, *envelope);
      // A rejected command may still carry its refusal (a body that does not decode): sent, and counted.
      for (const auto& out : handled.out) publisher.publish_encoded(out.topic, out.body, out.request_id);
      if (!handled.rejected.ok()) subscriber.reject(*envelope, handled.rejected);
      changed = changed || handled.state_changed;
      if (handled.snapshot_requested) publication.snapshot_requested();
    }
    // A registry that falls behind (a CPU spike here too) still has heartbeats waiting: it judges hosts
    // only once it has read them, so that its own slowness never makes a host suspect.
    if (auto ticked = reg->tick(caught_up); ticked.ok() && *ticked) changed = true;
    for (const auto& out : publication.due(reg->state(), changed))
      publisher.publish_encoded(out.topic, out.body, out.request_id);
  }
  spdlog::info("registry stopped (revision {}, {} malformed messages dropped)", reg->state().revision,
               subscriber.dropped());
  return 0;
}
