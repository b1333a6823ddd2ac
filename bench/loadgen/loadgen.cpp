#include "bench/loadgen/loadgen.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

namespace pier::loadgen {
namespace {

using Steady = std::chrono::steady_clock;

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now().time_since_epoch()).count();
}

double percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size(), std::max<std::size_t>(rank, 1)) - 1];
}

}  // namespace

std::string check(const Options& o) {
  if (o.host.empty()) return "host: must not be empty";
  if (o.port < 1 || o.port > 65535) return "port: must be 1-65535";
  if (o.paths.empty()) return "path: at least one is needed";
  for (const auto& p : o.paths)
    if (p.empty() || p[0] != '/') return "path: must start with '/' (got '" + p + "')";
  if (o.keepalive_workers < 0 || o.fresh_workers < 0) return "workers: must not be negative";
  if (o.keepalive_workers + o.fresh_workers < 1) return "workers: at least one keep-alive or fresh worker";
  if (o.keepalive_workers + o.fresh_workers > 256) return "workers: at most 256 in all";
  if (o.max_requests < 1) return "requests: must be at least 1";
  if (o.max_duration_ms < 1 || o.max_duration_ms > 3'600'000) return "duration: must be 1 ms to 1 hour";
  if (o.timeout_ms < 1 || o.timeout_ms > 60'000) return "timeout: must be 1 ms to 60 s";
  if (!(o.requests_per_second >= 0) || !std::isfinite(o.requests_per_second)) return "rate: must be 0 or positive";
  return "";
}

LoadGenerator::LoadGenerator(Options options) : options_(std::move(options)) {}

LoadGenerator::~LoadGenerator() {
  stop_ = true;
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

void LoadGenerator::start() {
  start_ms_ = steady_ms();
  workers_.resize(static_cast<std::size_t>(options_.keepalive_workers + options_.fresh_workers));
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    workers_[i].keepalive = static_cast<int>(i) < options_.keepalive_workers;
    threads_.emplace_back([this, i] { run(workers_[i], i); });
  }
}

void LoadGenerator::run(Worker& worker, std::size_t index) {
  httplib::Client client(options_.host, options_.port);
  client.set_keep_alive(worker.keepalive);
  const auto timeout = std::chrono::milliseconds(options_.timeout_ms);
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  client.set_write_timeout(timeout);
  const int64_t end_ms = start_ms_ + options_.max_duration_ms;
  const double gap_ms = options_.requests_per_second > 0 ? 1000.0 / options_.requests_per_second : 0;
  auto next = Steady::now();
  std::size_t path = index % options_.paths.size();
  while (!stop_ && steady_ms() < end_ms && started_.fetch_add(1) < options_.max_requests) {
    if (gap_ms > 0) {
      std::this_thread::sleep_until(next);  // pacing, not synchronisation
      next += std::chrono::microseconds(static_cast<int64_t>(gap_ms * 1000));
    }
    const auto begun = Steady::now();
    auto result = client.Get(options_.paths[path]);
    path = (path + 1) % options_.paths.size();
    worker.latencies_ms.push_back(std::chrono::duration<double, std::milli>(Steady::now() - begun).count());
    if (!result) {
      ++worker.socket_errors;
      record_failure({steady_ms() - start_ms_, "socket", httplib::to_string(result.error()), worker.keepalive});
    } else if (result->status < 200 || result->status > 299) {
      ++worker.non_2xx;
      record_failure({steady_ms() - start_ms_, "status", std::to_string(result->status), worker.keepalive});
    } else {
      ++worker.ok;
    }
    ++sent_;
  }
}

void LoadGenerator::record_failure(Failure failure) {
  ++failed_;
  std::lock_guard lock(failures_mutex_);
  if (failures_.size() < options_.failures_kept) failures_.push_back(std::move(failure));
}

Report LoadGenerator::stop() {
  stop_ = true;
  return wait();
}

Report LoadGenerator::wait() {
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  if (stop_ms_ == 0) stop_ms_ = steady_ms();
  return report();
}

Report LoadGenerator::report() {
  Report r;
  std::vector<double> all;
  for (const auto& w : workers_) {
    r.ok += w.ok;
    r.non_2xx += w.non_2xx;
    r.socket_errors += w.socket_errors;
    const auto n = static_cast<int64_t>(w.latencies_ms.size());
    (w.keepalive ? r.keepalive_sent : r.fresh_sent) += n;
    all.insert(all.end(), w.latencies_ms.begin(), w.latencies_ms.end());
  }
  r.sent = r.ok + r.non_2xx + r.socket_errors;
  r.duration_ms = std::max<int64_t>(1, stop_ms_ - start_ms_);
  r.requests_per_second = static_cast<double>(r.sent) * 1000.0 / static_cast<double>(r.duration_ms);
  std::sort(all.begin(), all.end());
  r.p50_ms = percentile(all, 50);
  r.p95_ms = percentile(all, 95);
  r.p99_ms = percentile(all, 99);
  r.max_ms = all.empty() ? 0 : all.back();
  std::lock_guard lock(failures_mutex_);
  r.failures = failures_;
  std::sort(r.failures.begin(), r.failures.end(), [](const auto& a, const auto& b) { return a.at_ms < b.at_ms; });
  return r;
}

std::string Report::to_json() const {
  nlohmann::json failures_json = nlohmann::json::array();
  for (const auto& f : failures)
    failures_json.push_back({{"at_ms", f.at_ms}, {"kind", f.kind}, {"detail", f.detail}, {"keepalive", f.keepalive}});
  nlohmann::json j = {{"sent", sent},
                      {"ok", ok},
                      {"non_2xx", non_2xx},
                      {"socket_errors", socket_errors},
                      {"keepalive_sent", keepalive_sent},
                      {"fresh_sent", fresh_sent},
                      {"duration_ms", duration_ms},
                      {"requests_per_second", requests_per_second},
                      {"p50_ms", p50_ms},
                      {"p95_ms", p95_ms},
                      {"p99_ms", p99_ms},
                      {"max_ms", max_ms},
                      {"failures", failures_json}};
  return j.dump();
}

std::string Report::to_text() const {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(2);
  out << "sent " << sent << " (keep-alive " << keepalive_sent << ", new connection " << fresh_sent << ") in "
      << duration_ms << " ms, " << requests_per_second << " req/s\n"
      << "ok " << ok << ", non-2xx " << non_2xx << ", socket errors " << socket_errors << "\n"
      << "latency ms: p50 " << p50_ms << ", p95 " << p95_ms << ", p99 " << p99_ms << ", max " << max_ms << "\n";
  for (const auto& f : failures)
    out << "  failed at " << f.at_ms << " ms: " << f.kind << " " << f.detail
        << (f.keepalive ? " (keep-alive)" : " (new connection)") << "\n";
  return out.str();
}

}  // namespace pier::loadgen
