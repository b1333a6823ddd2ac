// pier-metrics: stores agents' host and instance samples in SQLite for a retention window, serves the
// latest figures as Prometheus text on /metrics, and runs the autoscaler (autoscale_loop.h). The bus socket lives on
// this thread; the HTTP server on its own, reading a mutex-protected snapshot.
#include <algorithm>
#include <filesystem>
#include <iostream>

#include "common/bus.h"
#include "common/log.h"
#include "common/options.h"
#include "common/stop_signal.h"
#include "services/metrics/autoscale_loop.h"
#include "services/metrics/collector.h"
#include "services/metrics/decision_store.h"
#include "services/metrics/flags.h"
#include "services/metrics/http_endpoint.h"
#include "services/metrics/latest_figures.h"
#include "services/metrics/sample_store.h"

int main(int argc, char** argv) {
  using namespace pier;
  namespace po = boost::program_options;
  bus::Endpoints endpoints;
  std::string level;
  std::string db_path = "/var/lib/pier/metrics.db";
  std::string retention_text = "1h";
  std::string aggregate_retention_text = "7d";
  std::string stale_text = "30s";
  std::string listen_text = "127.0.0.1:9100";
  std::string decision_retention_text = "7d";
  int64_t autoscale_interval_ms = 5000;
  po::options_description desc("pier-metrics options");
  // clang-format off
  desc.add_options()
      ("db", po::value(&db_path)->default_value(db_path), "SQLite database file for samples (created if missing)")
      ("retention", po::value(&retention_text)->default_value(retention_text),
       "keep raw samples this long (90s, 30m, 1h, 2d)")
      ("aggregate-retention", po::value(&aggregate_retention_text)->default_value(aggregate_retention_text),
       "keep one-minute aggregates of samples this long (at least --retention)")
      ("stale", po::value(&stale_text)->default_value(stale_text),
       "leave a host out of /metrics when its latest sample is older than this")
      ("listen", po::value(&listen_text)->default_value(listen_text),
       "ADDRESS:PORT for the HTTP endpoint (/metrics, /healthz, /decisions, /autoscale/dry-run); port 0 picks a free "
       "one")
      ("autoscale-interval-ms", po::value(&autoscale_interval_ms)->default_value(autoscale_interval_ms),
       "how often the autoscaler decides for every app whose policy is enabled (ms, 100-3600000)")
      ("decision-retention", po::value(&decision_retention_text)->default_value(decision_retention_text),
       "keep autoscaler decisions this long (90s, 30m, 1h, 2d)");
  // clang-format on
  options::add_bus(desc, endpoints);
  options::add_log_level(desc, level);
  options::parse_or_exit(argc, argv, desc,
                         "usage: pier-metrics [options]\n\nStores host and instance samples and serves them to "
                         "Prometheus on /metrics.");
  log::init("pier-metrics", level);

  auto retention = metrics::parse_duration_ms("--retention", retention_text);
  auto aggregate_retention = metrics::parse_duration_ms("--aggregate-retention", aggregate_retention_text);
  auto stale = metrics::parse_duration_ms("--stale", stale_text);
  auto listen = metrics::parse_listen("--listen", listen_text);
  auto decision_retention = metrics::parse_duration_ms("--decision-retention", decision_retention_text);
  for (const Status* s : {&retention.status(), &aggregate_retention.status(), &stale.status(), &listen.status(),
                          &decision_retention.status()}) {
    if (!s->ok()) {
      std::cerr << "error: " << s->message() << "\n(see --help)\n";
      return 2;
    }
  }
  if (Status s = metrics::check_retentions(*retention, *aggregate_retention); !s.ok()) {
    std::cerr << "error: " << s.message() << "\n(see --help)\n";
    return 2;
  }
  if (autoscale_interval_ms < 100 || autoscale_interval_ms > 3'600'000) {
    std::cerr << "error: --autoscale-interval-ms: must be from 100 to 3600000\n(see --help)\n";
    return 2;
  }

  try {
    const auto parent = std::filesystem::path(db_path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
  } catch (const std::exception& e) {
    spdlog::error("cannot create the folder of {}: {}", db_path, e.what());
    return 1;
  }
  auto store = metrics::SampleStore::open(db_path, {*retention, *aggregate_retention});
  if (!store.ok()) {
    spdlog::error("{}", store.status().message());
    return 1;
  }

  SystemClock clock;
  metrics::LatestFigures figures(*stale);
  zmq::context_t context;
  const std::string sender = "metrics";
  bus::Publisher publisher(context, endpoints, sender, clock);
  metrics::DecisionStore decisions((*store)->db());
  metrics::AutoscaleOptions autoscale_options;
  autoscale_options.interval_ms = autoscale_interval_ms;
  autoscale_options.decision_retention_ms = *decision_retention;
  autoscale_options.history.keep_ms = *retention;
  metrics::AutoscaleLoop autoscale(
      clock,
      [&publisher](std::string_view topic, const std::string& body, const std::string& request_id) {
        publisher.publish_encoded(topic, body, request_id);
      },
      &decisions, &figures, autoscale_options);
  {
    const int64_t now = clock.now_ms();
    auto rows = (*store)->instance_rows_since(now - *retention);
    auto earlier = decisions.since(now - *decision_retention);
    if (!rows.ok()) spdlog::error("{}", rows.status().message());
    if (!earlier.ok()) spdlog::error("{}", earlier.status().message());
    autoscale.restore(rows.ok() ? *rows : std::vector<metrics::InstanceRow>{},
                      earlier.ok() ? *earlier : std::vector<metrics::AppDecision>{});
  }
  metrics::HttpEndpoint http(figures, clock, &autoscale);
  if (Status s = http.start(listen->address, listen->port); !s.ok()) {
    spdlog::error("{}", s.message());
    return 1;
  }

  auto prefixes = metrics::subscriptions();
  prefixes.push_back(topic::reply_to(sender));
  bus::Subscriber subscriber(context, endpoints, prefixes);
  metrics::CollectorOptions options;
  options.retention_ms = *retention;
  options.prune_every_ms = std::clamp<int64_t>(*retention / 10, 1000, 60'000);
  metrics::Collector collector(**store, figures, clock, options);
  collector.set_autoscale(&autoscale);
  collector.set_snapshot_asker(
      [&publisher](const std::string& reason) { publisher.publish(topic::kSnapshot, msg::SnapshotRequest{reason}); });
  stop_signal::install();
  spdlog::info("metrics up: {} (retention {}, aggregates {}), serving http://{}:{}/metrics", db_path, retention_text,
               aggregate_retention_text, listen->address, http.port());

  while (!stop_signal::requested()) collector.step(subscriber, 100);

  http.stop();
  const auto& c = collector.counters();
  spdlog::info("metrics stopped ({} messages received, {} malformed dropped, {} samples stored, {} store errors)",
               c.messages_received, c.messages_dropped, c.samples_stored, c.store_errors);
  return 0;
}
