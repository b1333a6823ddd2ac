// Request figures from the real HAProxy (/usr/sbin/haproxy): lbgen's built-in template run by the
// LbApplier with the request log, HTTP requests through it, then `show stat` and the logged requests.
#include "services/agent/lb_figures.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "common/files.h"
#include "services/agent/lb_applier.h"
#include "services/agent/proc_stats.h"
#include "services/lbgen/config_hash.h"
#include "services/lbgen/lb_spec.h"
#include "services/lbgen/render.h"
#include "tests/services/agent/lb_steps.h"
#include "tests/support/eventually.h"
#include "tests/support/free_port.h"
#include "tests/support/raw_http.h"
#include "tests/support/temp_dir.h"

namespace pier::agent {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class LbFiguresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    web_port_ = test_support::free_port();
    db_port_ = test_support::free_port();
    backend_port_ = test_support::free_port();
    // GET / takes at least 20 ms; GET /fail answers 503.
    server_.Get("/", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(20ms);
      res.set_content("ok", "text/plain");
    });
    ASSERT_TRUE(server_.bind_to_port("127.0.0.1", backend_port_));
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() before the listen loop runs would not stop it.
    ASSERT_TRUE(test_support::eventually([this] { return server_.is_running(); }));
    fs::create_directories(dir_ + "/haproxy");
    auto log = RequestLog::open(dir_ + "/haproxy/requests.sock");
    ASSERT_TRUE(log.ok()) << log.status().message();
    log_ = std::move(*log);
  }
  void TearDown() override {
    if (lb_) lb_->stop();
    server_.stop();
    if (thread_.joinable()) thread_.join();
    log_.reset();
  }
  msg::LbConfig config() {
    msg::State state;
    state.revision = 1;
    state.hosts.resize(1);
    msg::HostRecord& host = state.hosts[0];
    host.id = "h1";
    host.address = "127.0.0.1";
    host.haproxy_socket = dir_ + "/haproxy/haproxy.sock";
    host.stats_port = test_support::free_port();
    host.status = "up";
    msg::AppRecord web, db;
    web.spec.name = "web";
    web.spec.image = "pier/demo-app";
    web.spec.ports = {{web_port_, backend_port_}};
    web.spec.check_inter_ms = 100;
    web.spec.autoscale.enabled = true;  // a p95 target: its frontend logs each request
    web.spec.autoscale.targets = {{"p95_latency_ms", 200}};
    db.spec.name = "db";
    db.spec.image = "pier/demo-db";
    db.spec.protocol = "tcp";
    db.spec.ports = {{db_port_, backend_port_}};
    state.apps = {web, db};
    for (const auto& [id, app] : {std::pair{"web-1", "web"}, std::pair{"db-1", "db"}}) {
      msg::InstanceRecord i;
      i.id = id;
      i.app = app;
      i.host = "h1";
      i.ip = "127.0.0.1";
      i.state = "running";
      state.instances.push_back(i);
    }
    msg::LbConfig c;
    c.host_id = "h1";
    c.state_revision = 1;
    c.spec = lbgen::build_spec(state, state.hosts[0]);
    auto text = lbgen::render(c.spec, lbgen::default_template());
    EXPECT_TRUE(text.ok());
    c.haproxy_cfg = *text;
    c.hash = lbgen::config_hash(c.haproxy_cfg);
    return c;
  }

  pier::testing::TempDir temp_{"pier-lbfig-"};
  std::string dir_ = temp_.path();
  int web_port_ = 0, db_port_ = 0, backend_port_ = 0;
  httplib::Server server_;
  std::thread thread_;
  std::unique_ptr<RequestLog> log_;
  std::unique_ptr<LbApplier> lb_;
  SystemClock clock_;
};

TEST_F(LbFiguresTest, RatesSessionsAndP95FromTheRealHaproxy) {
  LbApplierOptions options;
  options.dir = dir_ + "/haproxy";
  options.haproxy = "/usr/sbin/haproxy";
  options.request_log_socket = log_->path();
  lb_ = std::make_unique<LbApplier>(options, clock_);
  ASSERT_TRUE(apply_now(*lb_, clock_, config()));
  ASSERT_TRUE(lb_->status().error.empty()) << lb_->status().error;
  // The template's tcp frontend is left alone; the http ones log.
  const std::string running = files::read_text(lb_->config_path());
  EXPECT_NE(running.find("log unix@" + log_->path()), std::string::npos) << running;

  HaproxyLbFigures figures(lb_->socket_path(), log_.get());
  ASSERT_TRUE(test_support::eventually([&] { return !figures.sample(clock_.steady_ms()).empty(); }));
  ASSERT_TRUE(test_support::eventually([&] {
    return test_support::raw_get(web_port_).find(" 200 ") != std::string::npos;
  })) << "the web server becomes up after its checks";
  // The log of that request says so too (HAProxy logs in order, after answering): none older comes later.
  ASSERT_TRUE(test_support::eventually([&] {
    for (const auto& r : log_->take())
      if (r.status == 200) return true;
    return false;
  }));
  const int64_t start = clock_.steady_ms();
  figures.sample(start);  // the baseline: counters now, the logged requests so far are taken
  constexpr int kRequests = 40;
  for (int i = 0; i < kRequests; ++i) ASSERT_NE(test_support::raw_get(web_port_).find(" 200 "), std::string::npos);
  // HAProxy logs each request when it ends, just after answering: wait until all are read.
  std::vector<msg::AppRequestSample> apps;
  std::vector<LoggedRequest> logged;
  ASSERT_TRUE(test_support::eventually([&] {
    for (auto& r : log_->take()) logged.push_back(r);
    return logged.size() >= kRequests;
  }));
  EXPECT_EQ(logged.size(), static_cast<std::size_t>(kRequests));
  for (const auto& r : logged) {
    EXPECT_EQ(r.backend, "app_web_" + std::to_string(backend_port_));
    EXPECT_EQ(r.server, "web-1");
    EXPECT_EQ(r.status, 200);
    EXPECT_GE(r.active_ms, 19);
  }

  // The same figures through the source: counters between two readings, p95 of what was logged.
  RequestFigures direct;
  auto csv = HaproxyRuntimeApi(lb_->socket_path()).send(kShowStatCommand);
  ASSERT_TRUE(csv.ok());
  auto rows = parse_show_stat(*csv);
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  apps = direct.update(*rows, logged, clock_.steady_ms());
  ASSERT_EQ(apps.size(), 2u);
  EXPECT_EQ(apps[0].app, "db");
  const auto& web = apps[1];
  EXPECT_EQ(web.app, "web");
  EXPECT_EQ(web.latency_samples, kRequests);
  EXPECT_GE(web.p95_latency_ms, 19);
  EXPECT_LT(web.p95_latency_ms, 2000);
  EXPECT_EQ(web.current_sessions, 0);
  EXPECT_EQ(web.responses_5xx, 0);
  ASSERT_EQ(web.servers.size(), 1u);
  EXPECT_EQ(web.servers[0].instance, "web-1");

  const auto after = figures.sample(clock_.steady_ms());
  ASSERT_EQ(after.size(), 2u);
  EXPECT_GT(after[1].requests_per_second, 0);
  EXPECT_GT(after[1].servers.at(0).requests_per_second, 0);
  const double seconds = static_cast<double>(clock_.steady_ms() - start) / 1000.0;
  EXPECT_LE(after[1].requests_per_second, kRequests / seconds * 1.5 + 1);
}

TEST_F(LbFiguresTest, NoHaproxyNoFigures) {
  HaproxyLbFigures figures(dir_ + "/haproxy/none.sock", log_.get(), 200);
  EXPECT_TRUE(figures.sample(0).empty());
  EXPECT_TRUE(figures.sample(1000).empty());
}

}  // namespace
}  // namespace pier::agent
