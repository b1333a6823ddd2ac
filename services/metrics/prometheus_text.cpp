#include "services/metrics/prometheus_text.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <vector>

#include "services/metrics/request_totals.h"

namespace pier::metrics {
namespace {

struct Family {
  const char* name;
  const char* type;  // gauge | counter
  const char* help;  // plain text: no backslash, no line feed (HELP would need them escaped)
};

// One family's lines: # HELP, # TYPE, then each sample as `name{labels} value`.
class FamilyWriter {
 public:
  FamilyWriter(std::string& out, const Family& family) : out_(out), family_(family) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", family.name, family.help, family.name,
                   family.type);
  }

  // `labels`: name/value pairs; label names are fixed identifiers, values are escaped here.
  void sample(std::initializer_list<std::pair<std::string_view, std::string_view>> labels, const std::string& value) {
    out_ += family_.name;
    if (labels.size() > 0) {
      out_ += '{';
      bool first = true;
      for (const auto& [name, label_value] : labels) {
        if (!first) out_ += ',';
        first = false;
        fmt::format_to(std::back_inserter(out_), "{}=\"{}\"", name, escape_label_value(label_value));
      }
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }

 private:
  std::string& out_;
  const Family family_;  // a copy: callers pass temporaries
};

std::string integer(int64_t value) { return std::to_string(value); }
std::string integer(uint64_t value) { return std::to_string(value); }

template <typename Value>
void host_family(std::string& out, const Snapshot& s, const Family& f, Value value) {
  FamilyWriter w(out, f);
  for (const auto& [id, sample] : s.hosts) w.sample({{"host", id}}, value(sample));
}

// Instances by id within each host. An id listed twice in one sample is shown once (the first), since
// a scrape must not hold the same series twice.
template <typename Value>
void instance_family(std::string& out, const Snapshot& s, const Family& f, Value value) {
  FamilyWriter w(out, f);
  for (const auto& [host, sample] : s.hosts) {
    std::vector<const msg::InstanceSample*> instances;
    for (const auto& i : sample.instances) instances.push_back(&i);
    std::stable_sort(instances.begin(), instances.end(), [](auto* a, auto* b) { return a->id < b->id; });
    const msg::InstanceSample* previous = nullptr;
    for (const auto* i : instances) {
      if (previous != nullptr && previous->id == i->id) continue;
      previous = i;
      w.sample({{"host", host}, {"app", i->app}, {"instance", i->id}}, value(*i));
    }
  }
}

void counter(std::string& out, const Family& f, uint64_t value) { FamilyWriter(out, f).sample({}, integer(value)); }

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out.push_back(c);
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

std::string format_prometheus(const Snapshot& s) {
  std::string out;
  {
    FamilyWriter w(out, {"pier_host_up", "gauge", "1 when the registry counts the host as up, 0 when down."});
    for (const auto& [id, up] : s.host_up) w.sample({{"host", id}}, up ? "1" : "0");
  }
  host_family(out, s, {"pier_host_cpu_percent", "gauge", "CPU use of the host, percent of all its cores (0-100)."},
              [](const msg::HostSample& h) { return format_value(h.cpu_percent); });
  host_family(out, s, {"pier_host_memory_used_bytes", "gauge", "Memory in use on the host, in bytes."},
              [](const msg::HostSample& h) { return integer(h.memory_used_bytes); });
  host_family(out, s, {"pier_host_memory_total_bytes", "gauge", "Memory of the host, in bytes."},
              [](const msg::HostSample& h) { return integer(h.memory_total_bytes); });
  host_family(out, s, {"pier_host_load1", "gauge", "One-minute load average of the host."},
              [](const msg::HostSample& h) { return format_value(h.load1); });
  instance_family(out, s, {"pier_instance_cpu_percent", "gauge", "CPU use of the instance, percent of one core."},
                  [](const msg::InstanceSample& i) { return format_value(i.cpu_percent); });
  instance_family(out, s, {"pier_instance_rss_bytes", "gauge", "Resident memory of the instance, in bytes."},
                  [](const msg::InstanceSample& i) { return integer(i.rss_bytes); });
  {
    FamilyWriter wanted(out, {"pier_app_replicas", "gauge", "Instances the app should have, from the state."});
    for (const auto& [app, figures] : s.apps) wanted.sample({{"app", app}}, integer(int64_t{figures.replicas}));
  }
  {
    FamilyWriter running(out, {"pier_app_instances_running", "gauge", "Instances of the app in state running."});
    for (const auto& [app, figures] : s.apps) running.sample({{"app", app}}, integer(int64_t{figures.running}));
  }
  {
    FamilyWriter w(out, {"pier_app_cpu_percent", "gauge",
                         "CPU use of the app, average per instance with a fresh sample, percent of one core."});
    for (const auto& [app, cpu] : s.autoscale.app_cpu_percent) w.sample({{"app", app}}, format_value(cpu));
  }
  // Requests, from every fresh host's HAProxy figures (request_totals.h).
  const auto requests = totals_by_app(s.hosts);
  {
    FamilyWriter w(out, {"pier_app_requests_per_second", "gauge",
                         "HTTP requests (tcp: connections) per second to the app, over every host's HAProxy."});
    for (const auto& [app, t] : requests) w.sample({{"app", app}}, format_value(t.requests_per_second));
  }
  {
    FamilyWriter w(out, {"pier_app_responses_5xx_total", "counter",
                         "5xx responses to the app's requests, summed over the hosts' HAProxy workers (a reload "
                         "restarts a worker's count)."});
    for (const auto& [app, t] : requests) w.sample({{"app", app}}, integer(t.responses_5xx));
  }
  {
    FamilyWriter w(out, {"pier_app_p95_latency_ms", "gauge",
                         "95th percentile of the app's request time (HAProxy %Ta) over the last sample interval, "
                         "the highest of the hosts'; absent when no request was logged."});
    for (const auto& [app, t] : requests)
      if (t.latency_samples > 0) w.sample({{"app", app}}, format_value(t.p95_latency_ms));
  }
  {
    FamilyWriter w(out, {"pier_app_current_sessions", "gauge", "Sessions open to the app, over every host's HAProxy."});
    for (const auto& [app, t] : requests) w.sample({{"app", app}}, integer(t.current_sessions));
  }
  {
    FamilyWriter w(
        out, {"pier_instance_current_sessions", "gauge", "Sessions open to the instance, over every host's HAProxy."});
    for (const auto& [app, t] : requests)
      for (const auto& [id, server] : t.servers)
        w.sample({{"app", app}, {"instance", id}}, integer(server.current_sessions));
  }
  {
    FamilyWriter w(out, {"pier_instance_requests_per_second", "gauge",
                         "Requests (tcp: connections) per second to the instance, over every host's HAProxy."});
    for (const auto& [app, t] : requests)
      for (const auto& [id, server] : t.servers)
        w.sample({{"app", app}, {"instance", id}}, format_value(server.requests_per_second));
  }
  {
    FamilyWriter w(out,
                   {"pier_autoscale_decisions_total", "counter",
                    "Autoscaler decisions recorded since start (changes, and holds whose rule changed), by rule."});
    for (const auto& [key, count] : s.autoscale.decisions)
      w.sample({{"app", key.first}, {"rule", key.second}}, integer(count));
  }
  {
    FamilyWriter w(out, {"pier_state_revision", "gauge", "Revision of the latest state seen from the registry."});
    if (s.has_state) w.sample({}, integer(s.state_revision));
  }
  counter(out, {"pier_metrics_messages_received_total", "counter", "Bus messages received since start."},
          s.counters.messages_received);
  counter(out,
          {"pier_metrics_messages_dropped_total", "counter",
           "Malformed bus messages dropped since start (bad frames, bodies that do not decode or validate)."},
          s.counters.messages_dropped);
  counter(out, {"pier_metrics_samples_stored_total", "counter", "Host samples written to the database since start."},
          s.counters.samples_stored);
  counter(out, {"pier_metrics_store_errors_total", "counter", "Host samples the database failed to store since start."},
          s.counters.store_errors);
  return out;
}

}  // namespace pier::metrics
