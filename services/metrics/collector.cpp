#include "services/metrics/collector.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cmath>

#include "common/codec.h"
#include "common/topics.h"
#include "common/validate.h"

namespace pier::metrics {
namespace {

constexpr std::size_t kMaxInstancesPerSample = 10'000;

Status non_negative(std::string_view field, double value) {
  if (!std::isfinite(value) || value < 0) return Status::Invalid(std::string(field), "must be a finite number >= 0");
  return Status::Ok();
}

}  // namespace

std::vector<std::string> subscriptions() {
  std::vector<std::string> prefixes = state::topics();
  prefixes.emplace_back(topic::kSamplePrefix);
  return prefixes;
}

Status check_sample(const std::string& topic, const msg::HostSample& sample) {
  if (Status s = validate::dns_label("host_id", sample.host_id); !s.ok()) return s;
  if (topic != topic::sample(sample.host_id)) return Status::Invalid("host_id", "must match the topic's host");
  if (Status s = non_negative("cpu_percent", sample.cpu_percent); !s.ok()) return s;
  if (Status s = non_negative("load1", sample.load1); !s.ok()) return s;
  if (sample.memory_used_bytes < 0) return Status::Invalid("memory_used_bytes", "must be >= 0");
  if (sample.memory_total_bytes < 0) return Status::Invalid("memory_total_bytes", "must be >= 0");
  if (sample.instances.size() > kMaxInstancesPerSample)
    return Status::Invalid("instances", "must hold at most " + std::to_string(kMaxInstancesPerSample) + " entries");
  for (std::size_t n = 0; n < sample.instances.size(); ++n) {
    const auto& i = sample.instances[n];
    const std::string field = "instances[" + std::to_string(n) + "].";
    if (Status s = validate::dns_label(field + "id", i.id); !s.ok()) return s;
    if (Status s = validate::dns_label(field + "app", i.app); !s.ok()) return s;
    if (Status s = non_negative(field + "cpu_percent", i.cpu_percent); !s.ok()) return s;
    if (i.rss_bytes < 0) return Status::Invalid(field + "rss_bytes", "must be >= 0");
  }
  if (sample.apps.size() > kMaxInstancesPerSample)
    return Status::Invalid("apps", "must hold at most " + std::to_string(kMaxInstancesPerSample) + " entries");
  std::size_t servers = 0;
  for (std::size_t n = 0; n < sample.apps.size(); ++n) {
    const auto& a = sample.apps[n];
    const std::string field = "apps[" + std::to_string(n) + "].";
    if (Status s = validate::dns_label(field + "app", a.app); !s.ok()) return s;
    if (Status s = non_negative(field + "requests_per_second", a.requests_per_second); !s.ok()) return s;
    if (Status s = non_negative(field + "avg_response_ms", a.avg_response_ms); !s.ok()) return s;
    if (Status s = non_negative(field + "p95_latency_ms", a.p95_latency_ms); !s.ok()) return s;
    if (a.current_sessions < 0) return Status::Invalid(field + "current_sessions", "must be >= 0");
    if (a.responses_5xx < 0) return Status::Invalid(field + "responses_5xx", "must be >= 0");
    if (a.latency_samples < 0) return Status::Invalid(field + "latency_samples", "must be >= 0");
    servers += a.servers.size();
    if (servers > kMaxInstancesPerSample)
      return Status::Invalid(field + "servers",
                             "must hold at most " + std::to_string(kMaxInstancesPerSample) + " entries in all");
    for (std::size_t m = 0; m < a.servers.size(); ++m) {
      const auto& server = a.servers[m];
      const std::string sf = field + "servers[" + std::to_string(m) + "].";
      if (Status s = validate::dns_label(sf + "instance", server.instance); !s.ok()) return s;
      if (Status s = non_negative(sf + "requests_per_second", server.requests_per_second); !s.ok()) return s;
      if (server.current_sessions < 0) return Status::Invalid(sf + "current_sessions", "must be >= 0");
      if (server.responses_5xx < 0) return Status::Invalid(sf + "responses_5xx", "must be >= 0");
    }
  }
  return Status::Ok();
}

Collector::Collector(SampleStore& store, LatestFigures& figures, const Clock& clock, CollectorOptions options)
    : store_(store), figures_(figures), clock_(clock), options_(options), follower_(clock) {}

Status Collector::handle(const bus::Envelope& envelope) {
  const std::string& t = envelope.topic;
  if (t.rfind(topic::kSamplePrefix, 0) == 0) {
    auto sample = codec::decode<msg::HostSample>(envelope.body);
    if (!sample.ok()) return sample.status();
    if (Status s = check_sample(t, *sample); !s.ok()) return s;
    figures_.update(*sample, clock_.steady_ms());
    if (autoscale_ != nullptr) autoscale_->on_sample(*sample);
    if (Status s = store_.insert(*sample, clock_.now_ms()); !s.ok()) {
      // Not the sender's fault: the figures still show it, the database lost it. Log the first and
      // then every 1000th, so a full disk does not flood the log.
      if (counters_.store_errors++ % 1000 == 0)
        spdlog::error("host {}: sample not stored ({} so far): {}", sample->host_id, counters_.store_errors,
                      s.message());
    } else {
      ++counters_.samples_stored;
    }
    return Status::Ok();
  }
  if (auto took = follower_.take(t, envelope.body)) {
    if (!took->ok()) return took->status();
    if (!state::changed(**took)) return Status::Ok();
    figures_.update(follower_.state());
    if (autoscale_ != nullptr) autoscale_->on_state(follower_.state());
    return Status::Ok();
  }
  if (t.rfind(topic::kReplyPrefix, 0) == 0 && autoscale_ != nullptr) {
    auto reply = codec::decode<msg::Reply>(envelope.body);
    if (!reply.ok()) return reply.status();
    autoscale_->on_reply(*reply);
    return Status::Ok();
  }
  return Status::Ok();
}

void Collector::prune_if_due() {
  const int64_t now = clock_.steady_ms();
  if (pruned_once_ && now - last_prune_ms_ < options_.prune_every_ms) return;
  pruned_once_ = true;
  last_prune_ms_ = now;
  auto deleted = store_.delete_before(clock_.now_ms() - options_.retention_ms);
  if (!deleted.ok())
    spdlog::error("{}", deleted.status().message());
  else if (*deleted > 0)
    spdlog::debug("deleted {} sample rows older than the retention", *deleted);
}

void Collector::step(bus::Subscriber& subscriber, int timeout_ms) {
  std::optional<bus::Envelope> envelope;
  try {
    envelope = subscriber.receive(timeout_ms);
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) throw;  // a signal landed during the poll: the caller looks at its stop flag
  }
  if (envelope) {
    if (Status s = handle(*envelope); !s.ok()) subscriber.reject(*envelope, s);
  }
  if (ask_snapshot_ && follower_.should_ask()) ask_snapshot_(follower_.ask_reason());
  prune_if_due();
  if (autoscale_ != nullptr) autoscale_->tick();
  counters_.messages_received = subscriber.received();
  counters_.messages_dropped = subscriber.dropped();
  figures_.set_counters(counters_);
}

}  // namespace pier::metrics
