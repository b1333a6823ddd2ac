#include "cli/top.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <thread>
#include <zmq.hpp>

#include "common/codec.h"
#include "common/topics.h"

namespace pier::cli {
namespace {

msg::AppMetrics metrics(const std::string& app, double cpu, double rps = -1, double p95 = -1) {
  msg::AppMetrics m;
  m.app = app;
  m.time_ms = 1'700'000'000'000;
  m.instances = 2;
  m.cpu_percent = cpu;
  m.requests_per_second = rps;
  m.p95_latency_ms = p95;
  m.replicas = 3;
  m.running = 2;
  return m;
}

TEST(TopFormat, AbsentFiguresAreADash) {
  EXPECT_EQ(format_figure(-1, 1), "-");
  EXPECT_EQ(format_figure(std::nan(""), 1), "-");
  EXPECT_EQ(format_figure(INFINITY, 0), "-");
  EXPECT_EQ(format_figure(0, 1), "0.0");
  EXPECT_EQ(format_figure(12.345, 1), "12.3");
  EXPECT_EQ(format_figure(87.6, 0), "88");
}

TEST(TopFormat, OneLinePerAppWithWantedRunningAndFigures) {
  const std::string table = top_table({metrics("api", 12.345, 250.04, 37.6), metrics("web", -1)});
  EXPECT_EQ(table,
            "APP  WANTED  RUNNING  INSTANCES  CPU%  REQ/S  P95MS\n"
            "api  3       2        2          12.3  250.0  38\n"
            "web  3       2        2          -     -      -\n");
  EXPECT_EQ(top_table({}), "APP  WANTED  RUNNING  INSTANCES  CPU%  REQ/S  P95MS\n");
}

TEST(TopFormat, JsonCarriesEveryFieldAndNullForAbsent) {
  const auto json = top_json({metrics("api", 12.5, 250, 37.5), metrics("web", -1)});
  ASSERT_TRUE(json.is_array());
  ASSERT_EQ(json.size(), 2u);
  EXPECT_EQ(json[0]["app"], "api");
  EXPECT_EQ(json[0]["time_ms"], 1'700'000'000'000);
  EXPECT_EQ(json[0]["replicas"], 3);
  EXPECT_EQ(json[0]["running"], 2);
  EXPECT_EQ(json[0]["instances"], 2);
  EXPECT_EQ(json[0]["cpu_percent"], 12.5);
  EXPECT_EQ(json[0]["requests_per_second"], 250.0);
  EXPECT_EQ(json[0]["p95_latency_ms"], 37.5);
  EXPECT_TRUE(json[1]["cpu_percent"].is_null());
  EXPECT_TRUE(json[1]["requests_per_second"].is_null());
  EXPECT_TRUE(json[1]["p95_latency_ms"].is_null());
  EXPECT_EQ(top_json({}).dump(), "[]");
}

TEST(TopBoard, KeepsTheLatestPerAppByName) {
  TopBoard board;
  EXPECT_TRUE(board.empty());
  board.update(metrics("web", 10), 0);
  board.update(metrics("api", 20), 1);
  board.update(metrics("web", 30), 5'000);
  const auto apps = board.apps(5'000);
  ASSERT_EQ(apps.size(), 2u);
  EXPECT_EQ(apps[0].app, "api");
  EXPECT_EQ(apps[1].app, "web");
  EXPECT_DOUBLE_EQ(apps[1].cpu_percent, 30);
}

TEST(TopBoard, ARoundIsCompleteWhenAnAppRepeatsOrTheBurstWentQuiet) {
  TopBoard board(300);
  EXPECT_FALSE(board.round_complete(10'000)) << "nothing yet";
  board.update(metrics("web", 10), 0);
  board.update(metrics("api", 10), 1);
  EXPECT_FALSE(board.round_complete(200));
  EXPECT_TRUE(board.round_complete(301));

  TopBoard repeated(300);
  repeated.update(metrics("web", 10), 0);
  repeated.update(metrics("api", 10), 1);
  repeated.update(metrics("web", 10), 2);
  EXPECT_TRUE(repeated.round_complete(2));
}

TEST(TopBoard, AnAppNoLongerPublishedIsForgotten) {
  TopBoard board(300, 30'000);
  board.update(metrics("old", 10), 0);
  board.update(metrics("web", 10), 25'000);
  EXPECT_EQ(board.apps(30'000).size(), 2u);
  const auto later = board.apps(30'001);
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].app, "web");
}

struct Captured {
  std::vector<std::string> out, err;
  Io io() {
    return Io{[this](const std::string& line) { out.push_back(line); },
              [this](const std::string& line) { err.push_back(line); }};
  }
};

TEST(TopCommand, BadInputExitsTwoNamingTheOption) {
  Captured c;
  EXPECT_EQ(run_top({"--output", "xml"}, c.io()), kExitBadInput);
  ASSERT_EQ(c.err.size(), 1u);
  EXPECT_EQ(c.err[0], "error: output: must be table or json");
  EXPECT_EQ(run_top({"--once", "--timeout", "0"}, c.io()), kExitBadInput);
  EXPECT_NE(c.err.back().find("timeout"), std::string::npos);
  EXPECT_EQ(run_top({"--frobnicate"}, c.io()), kExitBadInput);
  EXPECT_NE(c.err.back().find("frobnicate"), std::string::npos);
  EXPECT_EQ(run_top({"extra"}, c.io()), kExitBadInput);
  EXPECT_EQ(run_top({"--help"}, c.io()), kExitOk);
  EXPECT_NE(c.out.back().find("--once"), std::string::npos);
}

// A PUB socket on 127.0.0.1 stands in for the bus's XPUB side, publishing a round of AppMetrics every
// 20 ms (as pier-metrics does every interval) until the command returns.
class TopOnceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    source_.bind("tcp://127.0.0.1:*");
    endpoint_ = source_.get(zmq::sockopt::last_endpoint);
  }
  void publish_rounds(const std::vector<msg::AppMetrics>& round) {
    publisher_ = std::thread([this, round] {
      uint64_t seq = 0;
      for (int n = 0; n < 1000 && !done_; ++n) {  // bounded: 20 s at most
        for (const auto& m : round) {
          msg::Header h;
          h.sender = "metrics";
          h.seq = ++seq;
          const std::string frames[] = {topic::app_metrics(m.app), codec::encode(h), codec::encode(m)};
          source_.send(zmq::buffer(frames[0]), zmq::send_flags::sndmore);
          source_.send(zmq::buffer(frames[1]), zmq::send_flags::sndmore);
          source_.send(zmq::buffer(frames[2]), zmq::send_flags::none);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
  }
  void TearDown() override {
    done_ = true;
    if (publisher_.joinable()) publisher_.join();
  }

  zmq::context_t context_;
  zmq::socket_t source_{context_, zmq::socket_type::pub};
  std::string endpoint_;
  std::thread publisher_;
  std::atomic<bool> done_{false};
};

TEST_F(TopOnceTest, PrintsOneTableOfTheFirstRoundAndExits) {
  publish_rounds({metrics("web", 42.5, 120, 15), metrics("api", -1)});
  Captured c;
  EXPECT_EQ(run_top({"--once", "--bus-sub", endpoint_, "--timeout", "10"}, c.io()), kExitOk);
  done_ = true;
  ASSERT_EQ(c.out.size(), 1u) << (c.err.empty() ? "" : c.err[0]);
  EXPECT_EQ(c.out[0],
            "APP  WANTED  RUNNING  INSTANCES  CPU%  REQ/S  P95MS\n"
            "api  3       2        2          -     -      -\n"
            "web  3       2        2          42.5  120.0  15");
}

TEST_F(TopOnceTest, JsonOnceIsAnArrayOfTheApps) {
  publish_rounds({metrics("web", 42.5)});
  Captured c;
  EXPECT_EQ(run_top({"--once", "-o", "json", "--bus-sub", endpoint_}, c.io()), kExitOk);
  done_ = true;
  ASSERT_EQ(c.out.size(), 1u);
  const auto json = nlohmann::json::parse(c.out[0]);
  ASSERT_EQ(json.size(), 1u);
  EXPECT_EQ(json[0]["app"], "web");
  EXPECT_EQ(json[0]["cpu_percent"], 42.5);
  EXPECT_TRUE(json[0]["p95_latency_ms"].is_null());
}

TEST_F(TopOnceTest, NoFiguresWithinTheTimeoutExitsOne) {
  Captured c;  // nothing is published
  EXPECT_EQ(run_top({"--once", "--bus-sub", endpoint_, "--timeout", "1"}, c.io()), kExitNotDone);
  EXPECT_TRUE(c.out.empty());
  ASSERT_EQ(c.err.size(), 1u);
  EXPECT_NE(c.err[0].find("no app figures from pier-metrics within 1s"), std::string::npos) << c.err[0];
}

}  // namespace
}  // namespace pier::cli
