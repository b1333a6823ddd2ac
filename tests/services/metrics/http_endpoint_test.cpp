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

}  // namespace
}  // namespace pier::metrics
