#include "cli/explain.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <thread>

#include "cli/metrics_client.h"
#include "tests/support/free_port.h"

namespace pier::cli {
namespace {

nlohmann::json decision(int64_t time_ms, int from, int to, const std::string& rule, const std::string& why) {
  return {{"time_ms", time_ms},
          {"app", "web"},
          {"old", from},
          {"new", to},
          {"rule", rule},
          {"inputs", {{"current", from}, {"observed.cpu_percent", 87.5}, {"metrics_age_s", nullptr}}},
          {"explanation", std::to_string(from) + " -> " + std::to_string(to) + " (" + rule + "): " + why}};
}

struct Captured {
  std::vector<std::string> out, err;
  Io io() {
    return Io{[this](const std::string& l) { out.push_back(l); }, [this](const std::string& l) { err.push_back(l); }};
  }
};

TEST(Explain, FormatsTimesInUtc) {
  EXPECT_EQ(format_utc(1'700'000'000'000), "2023-11-14 22:13:20Z");
  EXPECT_EQ(format_utc(0), "1970-01-01 00:00:00Z");
}

TEST(Explain, DecisionsTableShowsChangeRuleAndReason) {
  const nlohmann::json list = {
      decision(1'700'000'000'000, 2, 2, "up-window", "load asks for 4 but not for long"),
      decision(1'700'000'030'000, 2, 4, "scale-up", "every answer asked for at least 4"),
      {{"time_ms", 1'700'000'040'000}, {"old", 4}, {"new", 4}, {"rule", "odd"}, {"explanation", "free text"}}};
  EXPECT_EQ(decisions_table(list),
            "TIME                  CHANGE  RULE       WHY\n"
            "2023-11-14 22:13:20Z  hold 2  up-window  load asks for 4 but not for long\n"
            "2023-11-14 22:13:50Z  2 -> 4  scale-up   every answer asked for at least 4\n"
            "2023-11-14 22:14:00Z  hold 4  odd        free text\n");
  EXPECT_EQ(decisions_table(nlohmann::json::array()), "TIME  CHANGE  RULE  WHY\n");
}

TEST(Explain, DryRunTextSaysWhatAndWhy) {
  nlohmann::json a = decision(1'700'000'000'000, 2, 4, "scale-up", "every answer asked for at least 4");
  a["dry_run"] = true;
  EXPECT_EQ(dry_run_text(a),
            "web: would scale 2 -> 4 (scale-up)\n"
            "  why:    every answer asked for at least 4\n"
            "  inputs: current=2, metrics_age_s=-, observed.cpu_percent=87.5\n"
            "  at:     2023-11-14 22:13:20Z (dry run: nothing was sent)\n");
  a["new"] = 2;
  a["rule"] = "steady";
  a["explanation"] = "2 -> 2 (steady): load answers the current count";
  EXPECT_EQ(dry_run_text(a).substr(0, 46), "web: would hold at 2 (steady)\n  why:    load a");
}

TEST(Explain, MetricsUrlReducesToItsBase) {
  EXPECT_EQ(*metrics_base_url("http://127.0.0.1:9100/metrics"), "http://127.0.0.1:9100");
  EXPECT_EQ(*metrics_base_url("http://localhost:9100"), "http://localhost:9100");
  EXPECT_FALSE(metrics_base_url("https://x:1").ok());
  EXPECT_FALSE(metrics_base_url("127.0.0.1:9100").ok());
  EXPECT_FALSE(metrics_base_url("http:///metrics").ok());
}

// A stand-in for pier-metrics on a free 127.0.0.1 port.
class FakeMetrics {
 public:
  FakeMetrics() {
    server_.Get("/decisions", [](const httplib::Request& req, httplib::Response& res) {
      const std::string app = req.get_param_value("app");
      nlohmann::json body;
      if (app == "web") {
        body = {{"app", "web"},
                {"known", true},
                {"autoscale_enabled", true},
                {"decisions", {decision(1'700'000'030'000, 2, 4, "scale-up", "hot")}}};
      } else if (app == "idle") {
        body = {{"app", "idle"}, {"known", true}, {"autoscale_enabled", false}, {"decisions", nlohmann::json::array()}};
      } else {
        res.status = 404;
        body = {{"error", "app " + app + " not found"}};
      }
      res.set_content(body.dump(), "application/json");
    });
    server_.Get("/autoscale/dry-run", [](const httplib::Request& req, httplib::Response& res) {
      if (req.get_param_value("app") == "idle") {
        res.status = 409;
        res.set_content(nlohmann::json{{"error", "autoscaling is not enabled for app idle"}}.dump(),
                        "application/json");
        return;
      }
      nlohmann::json a = decision(1'700'000'000'000, 2, 4, "scale-up", "hot");
      a["dry_run"] = true;
      res.set_content(a.dump(), "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!server_.is_running() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeMetrics() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/metrics"; }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

TEST(Explain, WhyAndDryRunReadPierMetrics) {
  FakeMetrics fake;
  ASSERT_GT(std::stoi(fake.url().substr(17)), 0);
  Captured c;
  EXPECT_EQ(run_why({"web", "--metrics-url", fake.url()}, c.io()), kExitOk);
  ASSERT_EQ(c.out.size(), 1u);
  EXPECT_NE(c.out[0].find("2 -> 4  scale-up  hot"), std::string::npos) << c.out[0];

  Captured j;
  EXPECT_EQ(run_why({"web", "--metrics-url", fake.url(), "-o", "json", "--last", "5"}, j.io()), kExitOk);
  EXPECT_EQ(nlohmann::json::parse(j.out.at(0))["decisions"][0]["rule"], "scale-up");

  Captured d;
  EXPECT_EQ(run_autoscale({"web", "--dry-run", "--metrics-url", fake.url()}, d.io()), kExitOk);
  EXPECT_EQ(d.out.at(0).substr(0, 34), "web: would scale 2 -> 4 (scale-up)");

  Captured unknown;
  EXPECT_EQ(run_why({"nope", "--metrics-url", fake.url()}, unknown.io()), kExitBadInput);
  EXPECT_NE(unknown.err.at(0).find("app nope not found"), std::string::npos) << unknown.err.at(0);

  Captured off;
  EXPECT_EQ(run_why({"idle", "--metrics-url", fake.url()}, off.io()), kExitBadInput);
  EXPECT_EQ(off.err.at(0), "error: autoscaling is not enabled for app idle");
  Captured off2;
  EXPECT_EQ(run_autoscale({"idle", "--dry-run", "--metrics-url", fake.url()}, off2.io()), kExitBadInput);
  EXPECT_NE(off2.err.at(0).find("autoscaling is not enabled for app idle"), std::string::npos);
}

TEST(Explain, UnreachableMetricsIsExitOneNamingTheUrl) {
  const std::string url = "http://127.0.0.1:" + std::to_string(test_support::free_port());
  Captured c;
  EXPECT_EQ(run_why({"web", "--metrics-url", url, "--timeout", "2"}, c.io()), kExitNotDone);
  ASSERT_EQ(c.err.size(), 1u);
  EXPECT_NE(c.err[0].find("cannot reach pier-metrics at " + url), std::string::npos) << c.err[0];
  Captured d;
  EXPECT_EQ(run_autoscale({"web", "--dry-run", "--metrics-url", url, "--timeout", "2"}, d.io()), kExitNotDone);
}

TEST(Explain, BadInputIsExitTwo) {
  Captured c;
  EXPECT_EQ(run_why({}, c.io()), kExitBadInput);
  EXPECT_EQ(run_why({"Bad_App"}, c.io()), kExitBadInput);
  EXPECT_EQ(run_why({"web", "--last", "0"}, c.io()), kExitBadInput);
  EXPECT_EQ(run_why({"web", "-o", "yaml"}, c.io()), kExitBadInput);
  EXPECT_EQ(run_autoscale({"web"}, c.io()), kExitBadInput) << "--dry-run is required";
  EXPECT_EQ(run_why({"web", "--metrics-url", "ftp://x"}, c.io()), kExitBadInput);
  Captured h;
  EXPECT_EQ(run_why({"--help"}, h.io()), kExitOk);
  EXPECT_NE(h.out.at(0).find("usage: pier why APP"), std::string::npos);
}

}  // namespace
}  // namespace pier::cli
