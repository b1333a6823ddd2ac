// A bounded HTTP load generator: workers send GETs to one host:port until a request count or a duration
// is reached (whichever comes first), and every request is counted as answered 2xx, answered otherwise,
// or failed at the socket. Some workers keep their connection alive, others open a new connection for
// every request, so both kinds of client see every change of the load balancer.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pier::loadgen {

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::vector<std::string> paths = {"/"};  // taken in turn by each worker
  int keepalive_workers = 2;               // one connection each, reused
  int fresh_workers = 1;                   // a new connection for every request
  int64_t max_requests = 100'000;          // over all workers
  int64_t max_duration_ms = 60'000;
  int64_t timeout_ms = 5'000;       // connect and read, per request
  double requests_per_second = 0;   // per worker; 0: as fast as the answers come
  std::size_t failures_kept = 100;  // the first failures, with their times, for diagnosis
};

struct Failure {
  int64_t at_ms = 0;   // since the start
  std::string kind;    // "status" or "socket"
  std::string detail;  // "503" or the client's error
  bool keepalive = false;
};

struct Report {
  int64_t sent = 0;  // == ok + non_2xx + socket_errors
  int64_t ok = 0;
  int64_t non_2xx = 0;
  int64_t socket_errors = 0;
  int64_t keepalive_sent = 0;
  int64_t fresh_sent = 0;
  int64_t duration_ms = 0;
  double requests_per_second = 0;
  double p50_ms = 0, p95_ms = 0, p99_ms = 0, max_ms = 0;  // of every request, failed ones included
  std::vector<Failure> failures;                          // the first Options::failures_kept

  int64_t failed() const { return non_2xx + socket_errors; }
  std::string to_json() const;
  std::string to_text() const;
};

// Validates options: the field and the rule, or "" when they are usable.
std::string check(const Options& options);

class LoadGenerator {
 public:
  explicit LoadGenerator(Options options);
  ~LoadGenerator();  // stops and joins
  LoadGenerator(const LoadGenerator&) = delete;
  LoadGenerator& operator=(const LoadGenerator&) = delete;

  void start();
  // Requests finished so far (any outcome); safe from any thread.
  int64_t sent() const { return sent_.load(); }
  int64_t failed() const { return failed_.load(); }
  // Stops the workers (a request in flight finishes or times out) and reports.
  Report stop();
  // Waits until a bound is reached, then reports.
  Report wait();

 private:
  struct Worker {
    bool keepalive = false;
    std::vector<double> latencies_ms;
    int64_t ok = 0, non_2xx = 0, socket_errors = 0;
  };
  void run(Worker& worker, std::size_t index);
  void record_failure(Failure failure);
  Report report();

  Options options_;
  std::vector<Worker> workers_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> started_{0};  // requests begun (the max_requests bound)
  std::atomic<int64_t> sent_{0};
  std::atomic<int64_t> failed_{0};
  std::mutex failures_mutex_;
  std::vector<Failure> failures_;
  int64_t start_ms_ = 0;
  int64_t stop_ms_ = 0;
};

}  // namespace pier::loadgen
