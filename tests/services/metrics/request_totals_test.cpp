#include "services/metrics/request_totals.h"

#include <gtest/gtest.h>

namespace pier::metrics {
namespace {

TEST(RequestTotals, AddsRatesSessionsAndErrorsTakesTheHighestP95) {
  msg::AppRequestSample a{"web", 10, 2, 1, 5, 80, 100, {{"web-1", 6, 1, 1}, {"web-2", 4, 1, 0}}};
  msg::AppRequestSample b{"web", 5, 1, 3, 9, 200, 3, {{"web-2", 5, 1, 3}, {"web-2", 5, 1, 3}}};
  msg::AppRequestSample idle{"web", 0, 0, 0, 0, 999, 0, {}};
  const RequestTotals t = combine({&a, &b, &idle});
  EXPECT_DOUBLE_EQ(t.requests_per_second, 15);
  EXPECT_EQ(t.current_sessions, 3);
  EXPECT_EQ(t.responses_5xx, 4);
  EXPECT_DOUBLE_EQ(t.p95_latency_ms, 200) << "a host without logged requests has no say";
  EXPECT_EQ(t.latency_samples, 103);
  ASSERT_EQ(t.servers.size(), 2u);
  EXPECT_DOUBLE_EQ(t.servers.at("web-2").requests_per_second, 9) << "listed twice by one host: once";
  EXPECT_EQ(t.servers.at("web-2").current_sessions, 2);
  EXPECT_EQ(t.servers.at("web-1").responses_5xx, 1);

  const RequestTotals none = combine({&idle});
  EXPECT_EQ(none.latency_samples, 0);
  EXPECT_TRUE(combine({}).servers.empty());
}

TEST(RequestTotals, ByAppOverHosts) {
  std::map<std::string, msg::HostSample> hosts;
  hosts["h1"].apps = {{"web", 1, 0, 0, 0, 0, 0, {}}, {"api", 2, 0, 0, 0, 0, 0, {}}, {"web", 100, 0, 0, 0, 0, 0, {}}};
  hosts["h2"].apps = {{"web", 3, 0, 0, 0, 0, 0, {}}};
  const auto totals = totals_by_app(hosts);
  ASSERT_EQ(totals.size(), 2u);
  EXPECT_DOUBLE_EQ(totals.at("web").requests_per_second, 4) << "an app listed twice in one sample counts once";
  EXPECT_DOUBLE_EQ(totals.at("api").requests_per_second, 2);
}

}  // namespace
}  // namespace pier::metrics
