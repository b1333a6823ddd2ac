// The load generator against a real HTTP server on 127.0.0.1: every request is counted once, as
// answered 2xx, answered otherwise, or failed at the socket; bounds stop it by themselves.
#include "bench/loadgen/loadgen.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <set>

#include "tests/support/free_port.h"

namespace pier::loadgen {
namespace {

class Server {
 public:
  Server() : port_(test_support::free_port()) {
    server_.Get("/ok", [this](const httplib::Request& req, httplib::Response& res) {
      ++answered_;
      remember(req);
      res.set_content("ok", "text/plain");
    });
    server_.Get("/bad", [this](const httplib::Request& req, httplib::Response& res) {
      ++answered_;
      remember(req);
      res.status = 503;
    });
    server_.set_keep_alive_max_count(1000);  // the default closes a connection after 5 requests
    // Bound and listening before the constructor returns: no wait for readiness.
    if (!server_.bind_to_port("127.0.0.1", port_)) throw std::runtime_error("cannot bind the test server");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~Server() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  int answered() const { return answered_; }
  std::size_t client_ports() {
    std::lock_guard lock(mutex_);
    return ports_.size();
  }

 private:
  void remember(const httplib::Request& req) {
    std::lock_guard lock(mutex_);
    ports_.insert(req.remote_port);
  }
  int port_;
  httplib::Server server_;
  std::thread thread_;
  std::atomic<int> answered_{0};
  std::mutex mutex_;
  std::set<int> ports_;
};

Options options_for(int port) {
  Options o;
  o.port = port;
  o.keepalive_workers = 2;
  o.fresh_workers = 2;
  o.max_duration_ms = 20'000;
  o.timeout_ms = 2'000;
  return o;
}

TEST(LoadGeneratorTest, StopsAtTheRequestBoundAndCountsEveryAnswer) {
  Server server;
  auto o = options_for(server.port());
  o.paths = {"/ok", "/ok", "/bad"};
  o.keepalive_workers = 1;
  o.fresh_workers = 0;
  o.max_requests = 30;
  LoadGenerator generator(o);
  generator.start();
  const auto r = generator.wait();
  EXPECT_EQ(r.sent, 30);
  EXPECT_EQ(r.ok, 20);
  EXPECT_EQ(r.non_2xx, 10);
  EXPECT_EQ(r.socket_errors, 0);
  EXPECT_EQ(server.answered(), 30);
  ASSERT_EQ(r.failures.size(), 10u);
  EXPECT_EQ(r.failures[0].kind, "status");
  EXPECT_EQ(r.failures[0].detail, "503");
  EXPECT_GT(r.p99_ms, 0);
  EXPECT_LE(r.p50_ms, r.p99_ms);
}

TEST(LoadGeneratorTest, KeepAliveWorkersReuseAConnectionAndFreshOnesDoNot) {
  Server server;
  auto o = options_for(server.port());
  o.paths = {"/ok"};
  o.keepalive_workers = 1;
  o.fresh_workers = 0;
  o.max_requests = 20;
  {
    LoadGenerator generator(o);
    generator.start();
    EXPECT_EQ(generator.wait().ok, 20);
  }
  EXPECT_EQ(server.client_ports(), 1u);
  o.keepalive_workers = 0;
  o.fresh_workers = 1;
  LoadGenerator generator(o);
  generator.start();
  const auto r = generator.wait();
  EXPECT_EQ(r.ok, 20);
  EXPECT_EQ(r.fresh_sent, 20);
  EXPECT_EQ(server.client_ports(), 21u);  // one more connection per request
}

TEST(LoadGeneratorTest, ARefusedConnectionIsASocketError) {
  const int closed = test_support::free_port();  // nothing listens there
  auto o = options_for(closed);
  o.max_requests = 8;
  LoadGenerator generator(o);
  generator.start();
  const auto r = generator.wait();
  EXPECT_EQ(r.sent, 8);
  EXPECT_EQ(r.socket_errors, 8);
  EXPECT_EQ(r.ok, 0);
  EXPECT_EQ(r.failed(), 8);
  EXPECT_EQ(r.failures.front().kind, "socket");
}

TEST(LoadGeneratorTest, StopEndsAnUnboundedRunAndTheDurationBoundEndsItAlone) {
  Server server;
  auto o = options_for(server.port());
  o.paths = {"/ok"};
  o.max_requests = 1'000'000'000;
  o.max_duration_ms = 300;
  LoadGenerator timed(o);
  timed.start();
  const auto r = timed.wait();
  EXPECT_GT(r.sent, 0);
  EXPECT_EQ(r.failed(), 0);
  EXPECT_EQ(r.keepalive_sent + r.fresh_sent, r.sent);

  o.max_duration_ms = 60'000;
  LoadGenerator stopped(o);
  stopped.start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (stopped.sent() < 10 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  const auto s = stopped.stop();
  EXPECT_GE(s.sent, 10);
  EXPECT_LT(s.duration_ms, 30'000);
}

TEST(LoadGeneratorTest, CheckNamesTheFieldAndTheRule) {
  Options o;
  EXPECT_NE(check(o).find("port"), std::string::npos);
  o.port = 80;
  EXPECT_EQ(check(o), "");
  o.paths = {"nope"};
  EXPECT_NE(check(o).find("path: must start with '/'"), std::string::npos);
  o.paths = {"/"};
  o.keepalive_workers = 0;
  o.fresh_workers = 0;
  EXPECT_NE(check(o).find("workers"), std::string::npos);
  o.fresh_workers = 1;
  o.max_requests = 0;
  EXPECT_NE(check(o).find("requests"), std::string::npos);
}

}  // namespace
}  // namespace pier::loadgen
