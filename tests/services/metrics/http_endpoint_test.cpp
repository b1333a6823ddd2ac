#include "services/metrics/http_endpoint.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include "services/metrics/prometheus_text.h"
#include "tests/services/metrics/exposition_check.h"

namespace pier::metrics {
namespace {

httplib::Client client(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(5);
  c.set_read_timeout(5);
  c.set_write_timeout(5);
  return c;
}

TEST(HttpEndpoint, ServesMetricsOnAFreePort) {
  ManualClock clock;
  LatestFigures figures(30'000);
  msg::HostSample sample;
  sample.host_id = "h1";
  sample.cpu_percent = 42.5;
  sample.instances = {{"web-1", "web", 1.5, 4096}};
  figures.update(sample, clock.steady_ms());
  figures.set_counters({10, 2, 7, 0});

  HttpEndpoint http(figures, clock);
  ASSERT_TRUE(http.start("127.0.0.1", 0).ok());
  ASSERT_GT(http.port(), 0);
  auto c = client(http.port());

  auto res = c.Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), kPrometheusContentType);
  EXPECT_EQ(testing::exposition_problems(res->body), std::vector<std::string>{}) << res->body;
  EXPECT_NE(res->body.find("pier_host_cpu_percent{host=\"h1\"} 42.5\n"), std::string::npos) << res->body;
  EXPECT_NE(res->body.find("pier_instance_rss_bytes{host=\"h1\",app=\"web\",instance=\"web-1\"} 4096\n"),
            std::string::npos);
  EXPECT_NE(res->body.find("pier_metrics_messages_dropped_total 2\n"), std::string::npos);

  // The figures are read at each request, not once.
  sample.cpu_percent = 7;
  figures.update(sample, clock.steady_ms());
  res = c.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_NE(res->body.find("pier_host_cpu_percent{host=\"h1\"} 7\n"), std::string::npos) << res->body;

  res = c.Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  res = c.Get("/nothing-here");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);

  http.stop();
  EXPECT_FALSE(client(http.port()).Get("/metrics")) << "stopped means no longer listening";
}

TEST(HttpEndpoint, APortInUseIsAClearError) {
  ManualClock clock;
  LatestFigures figures(30'000);
  HttpEndpoint first(figures, clock);
  ASSERT_TRUE(first.start("127.0.0.1", 0).ok());
  HttpEndpoint second(figures, clock);
  const Status s = second.start("127.0.0.1", first.port());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("127.0.0.1:" + std::to_string(first.port())), std::string::npos) << s.message();
}

TEST(HttpEndpoint, ServesDecisionsAndDryRunsAsJson) {
  ManualClock clock;
  LatestFigures figures(30'000);
  std::vector<std::string> published;
  AutoscaleLoop loop(
      clock, [&](std::string_view topic, const std::string&, const std::string&) { published.emplace_back(topic); },
      nullptr, &figures);
  HttpEndpoint http(figures, clock, &loop);
  ASSERT_TRUE(http.start("127.0.0.1", 0).ok());
  auto c = client(http.port());

  auto res = c.Get("/decisions?app=web");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 503) << "no state yet";

  msg::State state;
  state.revision = 1;
  state.apps.resize(2);
  state.apps[0].spec.name = "web";
  state.apps[0].spec.replicas = 2;
  state.apps[0].spec.autoscale.enabled = true;
  state.apps[0].spec.autoscale.targets = {{"cpu_percent", 50}};
  state.apps[1].spec.name = "api";
  loop.on_state(state);
  loop.tick();  // no metrics yet: a stale hold is recorded

  res = c.Get("/decisions?app=web&last=5");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  auto body = nlohmann::json::parse(res->body);
  EXPECT_EQ(body["app"], "web");
  EXPECT_EQ(body["autoscale_enabled"], true);
  ASSERT_EQ(body["decisions"].size(), 1u);
  EXPECT_EQ(body["decisions"][0]["rule"], "stale");
  EXPECT_EQ(body["decisions"][0]["old"], 2);

  res = c.Get("/autoscale/dry-run?app=web");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  body = nlohmann::json::parse(res->body);
  EXPECT_EQ(body["rule"], "stale");
  EXPECT_EQ(body["dry_run"], true);

  const auto status_of = [&](const std::string& path) {
    auto r = c.Get(path);
    return r ? r->status : -1;
  };
  EXPECT_EQ(status_of("/decisions?app=nope"), 404);
  EXPECT_EQ(status_of("/autoscale/dry-run?app=nope"), 404);
  EXPECT_EQ(status_of("/autoscale/dry-run?app=api"), 409);
  EXPECT_EQ(status_of("/decisions?app=api"), 200);
  EXPECT_EQ(status_of("/decisions"), 400);
  EXPECT_EQ(status_of("/decisions?app=Bad_Name"), 400);
  EXPECT_EQ(status_of("/decisions?app=web&last=0"), 400);
  EXPECT_EQ(status_of("/decisions?app=web&last=x"), 400);
  res = c.Get("/autoscale/dry-run?app=api");
  ASSERT_TRUE(res);
  EXPECT_EQ(nlohmann::json::parse(res->body)["error"], "autoscaling is not enabled for app api");
}

}  // namespace
}  // namespace pier::metrics
