#include "services/metrics/prometheus_text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tests/services/metrics/exposition_check.h"

namespace pier::metrics {
namespace {

using testing::exposition_problems;

msg::HostSample host_sample(const std::string& host, std::vector<msg::InstanceSample> instances = {}) {
  msg::HostSample s;
  s.host_id = host;
  s.cpu_percent = 12.5;
  s.memory_used_bytes = 1'073'741'824;
  s.memory_total_bytes = 8'589'934'592;
  s.load1 = 0.75;
  s.instances = std::move(instances);
  return s;
}

Snapshot two_hosts() {
  Snapshot s;
  s.hosts["h2"] = host_sample("h2", {{"web-2", "web", 3.25, 2048}});
  s.hosts["h1"] = host_sample("h1", {{"web-1", "web", 50.5, 4096}, {"api-3", "api", 0, 1024}});
  s.host_up = {{"h1", true}, {"h2", false}};
  s.apps["web"] = {2, 2};
  s.apps["api"] = {1, 1};
  s.has_state = true;
  s.state_revision = 42;
  s.counters = {100, 3, 95, 1};
  return s;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

bool has_line(const std::string& text, const std::string& line) {
  for (const auto& l : lines_of(text))
    if (l == line) return true;
  return false;
}

TEST(PrometheusText, EscapesLabelValues) {
  EXPECT_EQ(escape_label_value("plain"), "plain");
  EXPECT_EQ(escape_label_value("a\\b"), "a\\\\b");
  EXPECT_EQ(escape_label_value("say \"hi\""), "say \\\"hi\\\"");
  EXPECT_EQ(escape_label_value("two\nlines"), "two\\nlines");
  EXPECT_EQ(escape_label_value("\\\"\n"), "\\\\\\\"\\n");
  EXPECT_EQ(escape_label_value(""), "");
}

TEST(PrometheusText, FormatsValues) {
  EXPECT_EQ(format_value(12.5), "12.5");
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(0.1), "0.1");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
}

TEST(PrometheusText, ShowsEveryFigureWithItsLabels) {
  const std::string text = format_prometheus(two_hosts());
  EXPECT_TRUE(has_line(text, "pier_host_up{host=\"h1\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "pier_host_up{host=\"h2\"} 0")) << text;
  // Fractions stay fractions (a double must never go through an integer formatter).
  EXPECT_TRUE(has_line(text, "pier_host_cpu_percent{host=\"h1\"} 12.5")) << text;
  EXPECT_TRUE(has_line(text, "pier_host_load1{host=\"h2\"} 0.75")) << text;
  EXPECT_TRUE(has_line(text, "pier_host_memory_used_bytes{host=\"h1\"} 1073741824")) << text;
  EXPECT_TRUE(has_line(text, "pier_host_memory_total_bytes{host=\"h1\"} 8589934592")) << text;
  EXPECT_TRUE(has_line(text, "pier_instance_cpu_percent{host=\"h1\",app=\"web\",instance=\"web-1\"} 50.5")) << text;
  EXPECT_TRUE(has_line(text, "pier_instance_cpu_percent{host=\"h2\",app=\"web\",instance=\"web-2\"} 3.25")) << text;
  EXPECT_TRUE(has_line(text, "pier_instance_rss_bytes{host=\"h1\",app=\"api\",instance=\"api-3\"} 1024")) << text;
  EXPECT_TRUE(has_line(text, "pier_app_replicas{app=\"web\"} 2")) << text;
  EXPECT_TRUE(has_line(text, "pier_app_instances_running{app=\"api\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "pier_state_revision 42")) << text;
  EXPECT_TRUE(has_line(text, "pier_metrics_messages_received_total 100")) << text;
  EXPECT_TRUE(has_line(text, "pier_metrics_messages_dropped_total 3")) << text;
  EXPECT_TRUE(has_line(text, "pier_metrics_samples_stored_total 95")) << text;
  EXPECT_TRUE(has_line(text, "pier_metrics_store_errors_total 1")) << text;
}

TEST(PrometheusText, RequestFiguresAddUpOverHosts) {
  Snapshot s = two_hosts();
  msg::AppRequestSample h1{"web", 30.5, 3, 2, 4, 120, 50, {{"web-1", 20, 2, 1}, {"web-2", 10.5, 1, 1}}};
  msg::AppRequestSample h2{"web", 10, 1, 5, 4, 80, 10, {{"web-2", 10, 1, 5}}};
  msg::AppRequestSample idle{"api", 0, 0, 0, 0, 0, 0, {{"api-3", 0, 0, 0}}};
  s.hosts["h1"].apps = {h1, idle};
  s.hosts["h2"].apps = {h2};
  const std::string text = format_prometheus(s);
  EXPECT_EQ(exposition_problems(text), std::vector<std::string>{}) << text;
  EXPECT_TRUE(has_line(text, "pier_app_requests_per_second{app=\"web\"} 40.5")) << text;
  EXPECT_TRUE(has_line(text, "pier_app_requests_per_second{app=\"api\"} 0")) << text;
  EXPECT_TRUE(has_line(text, "pier_app_responses_5xx_total{app=\"web\"} 7")) << text;
  EXPECT_TRUE(has_line(text, "pier_app_p95_latency_ms{app=\"web\"} 120")) << "the highest host's" << text;
  EXPECT_EQ(text.find("pier_app_p95_latency_ms{app=\"api\"}"), std::string::npos) << "nothing logged: absent";
  EXPECT_TRUE(has_line(text, "pier_app_current_sessions{app=\"web\"} 4")) << text;
  EXPECT_TRUE(has_line(text, "pier_instance_current_sessions{app=\"web\",instance=\"web-2\"} 2")) << text;
  EXPECT_TRUE(has_line(text, "pier_instance_current_sessions{app=\"web\",instance=\"web-1\"} 2")) << text;
  EXPECT_TRUE(has_line(text, "pier_instance_requests_per_second{app=\"web\",instance=\"web-2\"} 20.5")) << text;
}

TEST(PrometheusText, OneHelpAndTypePerFamilyAndFamiliesGrouped) {
  const std::string text = format_prometheus(two_hosts());
  EXPECT_EQ(exposition_problems(text), std::vector<std::string>{}) << text;
  // Ordered: hosts by id, instances by id within a host.
  EXPECT_LT(text.find("pier_host_cpu_percent{host=\"h1\"}"), text.find("pier_host_cpu_percent{host=\"h2\"}"));
  EXPECT_LT(text.find("instance=\"api-3\"} 0"), text.find("instance=\"web-1\"} 50.5"));
  EXPECT_EQ(format_prometheus(two_hosts()), text) << "same snapshot, same text";
}

TEST(PrometheusText, HostileLabelValuesStayInsideTheirQuotes) {
  Snapshot s;
  s.hosts["h\"1\n"] = host_sample("h\"1\n", {{"i\\d", "a\"pp\nx", 1.5, 1}});
  s.host_up["we}ird,\" 1\n"] = true;
  const std::string text = format_prometheus(s);
  EXPECT_EQ(exposition_problems(text), std::vector<std::string>{}) << text;
  EXPECT_TRUE(has_line(text, "pier_host_cpu_percent{host=\"h\\\"1\\n\"} 12.5")) << text;
  EXPECT_TRUE(has_line(text, "pier_instance_rss_bytes{host=\"h\\\"1\\n\",app=\"a\\\"pp\\nx\",instance=\"i\\\\d\"} 1"))
      << text;
}

TEST(PrometheusText, AnInstanceListedTwiceIsShownOnce) {
  Snapshot s;
  s.hosts["h1"] = host_sample("h1", {{"web-1", "web", 1, 10}, {"web-1", "web", 2, 20}});
  const std::string text = format_prometheus(s);
  EXPECT_EQ(exposition_problems(text), std::vector<std::string>{}) << text;
  EXPECT_TRUE(has_line(text, "pier_instance_cpu_percent{host=\"h1\",app=\"web\",instance=\"web-1\"} 1")) << text;
}

TEST(PrometheusText, NonFiniteValuesAndEmptySnapshotAreValid) {
  Snapshot s;
  s.hosts["h1"] = host_sample("h1");
  s.hosts["h1"].cpu_percent = std::nan("");
  s.hosts["h1"].load1 = std::numeric_limits<double>::infinity();
  const std::string text = format_prometheus(s);
  EXPECT_EQ(exposition_problems(text), std::vector<std::string>{}) << text;
  EXPECT_TRUE(has_line(text, "pier_host_cpu_percent{host=\"h1\"} NaN")) << text;
  EXPECT_TRUE(has_line(text, "pier_host_load1{host=\"h1\"} +Inf")) << text;
  EXPECT_FALSE(has_line(text, "pier_state_revision 0")) << "no state seen yet: no revision";
  EXPECT_EQ(exposition_problems(format_prometheus(Snapshot{})), std::vector<std::string>{});
}

// The checker itself must catch what it is there to catch.
TEST(ExpositionCheck, RejectsInvalidText) {
  EXPECT_FALSE(exposition_problems("# TYPE a gauge\na{x=\"1\"} 1\n# TYPE a gauge\n").empty()) << "two TYPEs";
  EXPECT_FALSE(exposition_problems("# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n").empty()) << "not grouped";
  EXPECT_FALSE(exposition_problems("a 1\n").empty()) << "no TYPE";
  EXPECT_FALSE(exposition_problems("# TYPE a gauge\na{x=\"\"\"} 1\n").empty()) << "bad escaping";
  EXPECT_FALSE(exposition_problems("# TYPE a gauge\na{x=\"\\q\"} 1\n").empty()) << "bad escape";
  EXPECT_FALSE(exposition_problems("# TYPE a gauge\na one\n").empty()) << "bad value";
  EXPECT_FALSE(exposition_problems("# TYPE a gauge\na 1\na 2\n").empty()) << "series twice";
  EXPECT_FALSE(exposition_problems("# TYPE a gauge\na 1").empty()) << "no final line feed";
  EXPECT_FALSE(exposition_problems("# TYPE 1a gauge\n").empty()) << "bad name";
  EXPECT_TRUE(exposition_problems("# HELP a x\n# TYPE a gauge\na{x=\"\\\"\\n\\\\\"} -1.5e+3\n\n# free\n").empty());
}

}  // namespace
}  // namespace pier::metrics
