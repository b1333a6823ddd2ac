#include "services/metrics/app_history.h"

#include <gtest/gtest.h>

#include <cmath>

namespace pier::metrics {
namespace {

msg::HostSample host(const std::string& id, std::vector<msg::InstanceSample> instances) {
  msg::HostSample s;
  s.host_id = id;
  s.instances = std::move(instances);
  return s;
}

TEST(AppHistory, AveragesFreshInstanceFiguresAcrossHosts) {
  AppHistory h(AppHistoryOptions{10'000, 3'600'000, 1000});
  h.add(host("h1", {{"web-1", "web", 80, 0}, {"api-1", "api", 5, 0}}), 1000);
  h.add(host("h2", {{"web-2", "web", 40, 0}}), 2000);
  auto web = h.samples("web", 0);
  ASSERT_EQ(web.size(), 2u);
  EXPECT_EQ(web[0].time_ms, 1000);
  EXPECT_DOUBLE_EQ(web[0].cpu_percent, 80);
  EXPECT_EQ(web[0].instances, 1);
  EXPECT_DOUBLE_EQ(web[1].cpu_percent, 60) << "both hosts' instances";
  EXPECT_EQ(web[1].instances, 2);
  EXPECT_TRUE(std::isnan(web[1].requests_per_second)) << "not measured: absent, not zero";
  EXPECT_TRUE(std::isnan(web[1].p95_latency_ms));
  EXPECT_EQ(h.samples("api", 0).size(), 1u);
  EXPECT_EQ(h.samples("web", 1500).size(), 1u);

  // h1's figure is 11.5 s old when h2 reports again: only web-2 counts.
  h.add(host("h2", {{"web-2", "web", 20, 0}}), 12'500);
  EXPECT_EQ(h.latest("web")->instances, 1);
  EXPECT_DOUBLE_EQ(h.latest("web")->cpu_percent, 20);
}

TEST(AppHistory, ForgetsInstancesAHostNoLongerReportsOrTheStateNoLongerLists) {
  AppHistory h;
  h.add(host("h1", {{"web-1", "web", 80, 0}, {"web-2", "web", 40, 0}}), 1000);
  h.add(host("h1", {{"web-1", "web", 80, 0}}), 3000);
  EXPECT_EQ(h.latest("web")->instances, 1);

  h.add(host("h2", {{"web-3", "web", 10, 0}}), 4000);
  msg::State state;
  state.apps.resize(1);
  state.apps[0].spec.name = "web";
  state.instances = {{"web-3", "web", "h2", "", "running", "", 0, 0, {}}};
  h.retain(state);
  h.add(host("h2", {{"web-3", "web", 10, 0}}), 5000);
  EXPECT_EQ(h.latest("web")->instances, 1) << "web-1 left the state";

  state.apps.clear();
  h.retain(state);
  EXPECT_FALSE(h.latest("web")) << "a removed app's history goes";
}

TEST(AppHistory, ReplaysStoredRowsAsTheSamplesTheyCameFrom) {
  AppHistory h;
  h.replay({{"h1", "web-1", "web", 1000, 30, 0},
            {"h1", "web-2", "web", 1000, 50, 0},
            {"h2", "web-3", "web", 1500, 70, 0},
            {"h1", "web-1", "web", 3000, 10, 0}});
  auto web = h.samples("web", 0);
  ASSERT_EQ(web.size(), 3u);
  EXPECT_DOUBLE_EQ(web[0].cpu_percent, 40);
  EXPECT_DOUBLE_EQ(web[1].cpu_percent, 50);
  EXPECT_EQ(web[1].instances, 3);
  EXPECT_EQ(web[2].instances, 2) << "web-2 missing from h1's sample at 3000";
  EXPECT_DOUBLE_EQ(web[2].cpu_percent, 40);
}

TEST(AppHistory, PrunesOldSamplesAndCapsEachApp) {
  AppHistory h(AppHistoryOptions{10'000, 5000, 3});
  for (int t = 1; t <= 10; ++t) h.add(host("h1", {{"web-1", "web", double(t), 0}}), t * 1000);
  EXPECT_EQ(h.samples("web", 0).size(), 3u);
  EXPECT_EQ(h.samples("web", 0).front().time_ms, 8000);
  h.prune(14'500);
  EXPECT_EQ(h.samples("web", 0).size(), 1u);
  h.prune(100'000);
  EXPECT_FALSE(h.latest("web"));
}

msg::AppRequestSample requests(const std::string& app, double rps, double p95, int64_t logged,
                               std::vector<msg::ServerRequestSample> servers = {}) {
  msg::AppRequestSample a;
  a.app = app;
  a.requests_per_second = rps;
  a.p95_latency_ms = p95;
  a.latency_samples = logged;
  a.servers = std::move(servers);
  return a;
}

TEST(AppHistory, RequestRatesAddUpOverHostsAndP95IsTheHighest) {
  AppHistory h(AppHistoryOptions{10'000, 3'600'000, 1000});
  auto h1 = host("h1", {{"web-1", "web", 80, 0}});
  h1.apps = {requests("web", 30, 40, 60)};
  h.add(h1, 1000);
  EXPECT_DOUBLE_EQ(h.latest("web")->requests_per_second, 30);
  EXPECT_DOUBLE_EQ(h.latest("web")->p95_latency_ms, 40);
  // h2 runs no instance of web but balances its requests too.
  auto h2 = host("h2", {});
  h2.apps = {requests("web", 20, 90, 5)};
  h.add(h2, 2000);
  auto web = h.latest("web");
  EXPECT_EQ(web->time_ms, 2000);
  EXPECT_DOUBLE_EQ(web->requests_per_second, 50);
  EXPECT_DOUBLE_EQ(web->p95_latency_ms, 90);
  EXPECT_DOUBLE_EQ(web->cpu_percent, 80);
  EXPECT_EQ(web->instances, 1);

  // No request logged on h2 in its next interval: its p95 has no say, its rate (0) still counts.
  h2.apps = {requests("web", 0, 0, 0)};
  h.add(h2, 4000);
  EXPECT_DOUBLE_EQ(h.latest("web")->requests_per_second, 30);
  EXPECT_DOUBLE_EQ(h.latest("web")->p95_latency_ms, 40);
  // h1's figures go stale (and h1 is gone): h2 alone, and no p95 at all.
  h.add(h2, 12'000);
  EXPECT_DOUBLE_EQ(h.latest("web")->requests_per_second, 0);
  EXPECT_TRUE(std::isnan(h.latest("web")->p95_latency_ms));
  EXPECT_TRUE(std::isnan(h.latest("web")->cpu_percent)) << "no fresh instance figure";
  EXPECT_EQ(h.latest("web")->instances, 0);
  // A host that stops balancing an app takes its figures with it.
  h2.apps.clear();
  h.add(h2, 13'000);
  EXPECT_EQ(h.latest("web")->time_ms, 12'000) << "nothing fresh left: no new sample";
}

TEST(AppHistory, LoadsSumSessionsOverHostsUnknownIsIdle) {
  AppHistory h;
  auto h1 = host("h1", {});
  h1.apps = {requests("web", 1, 1, 1, {{"web-1", 1, 3, 0}, {"web-2", 1, 1, 0}})};
  auto h2 = host("h2", {});
  h2.apps = {requests("web", 1, 1, 1, {{"web-1", 1, 4, 0}})};
  h.add(h1, 1000);
  h.add(h2, 1000);
  auto loads = h.loads("web", {"web-1", "web-2", "web-3"}, 2000);
  ASSERT_EQ(loads.size(), 3u);
  EXPECT_EQ(loads[0].sessions, 7);
  EXPECT_EQ(loads[1].sessions, 1);
  EXPECT_EQ(loads[2].sessions, 0);
  EXPECT_EQ(h.loads("web", {"web-1"}, 20'000)[0].sessions, 0) << "stale figures say nothing";
}

}  // namespace
}  // namespace pier::metrics
