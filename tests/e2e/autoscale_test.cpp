// Autoscaling against the whole stack (issue 6), exec runtime, real clock:
// - load raises the request rate: a scale-up decision within 10 s of the figure crossing the target,
//   the new instances serve through HAProxy; the load drops: scale-down only after the down window,
//   no failed request;
// - a schedule period about to begin raises the floor before it begins (pre-warm);
// - pier-metrics' /metrics, fetched with curl under load, parses as Prometheus text (the Python
//   client's parser and the exposition grammar check) and carries the app's request rate.
// The first prints one "[ timeline ]" line per second that bench/autoscale/run.sh turns into the table
// of bench/RESULTS.md.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "bench/loadgen/loadgen.h"
#include "common/bus.h"
#include "common/codec.h"
#include "common/messages.h"
#include "common/process.h"
#include "common/time_zone.h"
#include "common/topics.h"
#include "common/version.h"
#include "tests/e2e/harness.h"
#include "tests/services/metrics/exposition_check.h"

namespace pier::e2e {
namespace {

using namespace std::chrono_literals;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A stack whose pier-metrics decides every second and whose agent samples every second, so that the
// windows of a one-minute test hold many samples. The flags reach them through the environment
// (PIER_<FLAG>, read by every pier program), which `pier dev` passes on to its children.
std::unique_ptr<Stack> fast_stack() {
  ::setenv("PIER_AUTOSCALE_INTERVAL_MS", "1000", 1);
  ::setenv("PIER_SAMPLE_MS", "1000", 1);
  auto stack = std::make_unique<Stack>();
  ::unsetenv("PIER_AUTOSCALE_INTERVAL_MS");
  ::unsetenv("PIER_SAMPLE_MS");
  return stack;
}

// Deploys the demo app from a YAML file whose `autoscale:` block is `autoscale` (already indented).
CommandResult deploy_with_policy(const Stack& s, const std::string& app, int port, const std::string& autoscale) {
  const std::string path = s.state_dir() + "/" + app + ".yaml";
  std::ofstream(path) << "name: " << app << "\nimage: pier/demo-app\ntag: \"" << kVersion
                      << "\"\ncommand: [pier-demo-app]\nports: [\"" << port << ":8000\"]\nreplicas: 1\nautoscale:\n"
                      << autoscale;
  return s.pier({"deploy", "-f", path, "--timeout", "60"});
}

// Everything pier-metrics publishes about one app: its figures every autoscale interval
// (metrics.app.<app>) and every recorded decision (metrics.decision.<app>). One socket, owned by the
// test's thread.
class AppWatch {
 public:
  AppWatch(const bus::Endpoints& bus_sub, const std::string& app)
      : app_(app), subscriber_(context_, bus_sub, {topic::app_metrics(app), topic::decision(app)}) {}

  // Reads what arrives for `for_ms`.
  void poll(int for_ms) {
    const int64_t until = wall_ms() + for_ms;
    for (int64_t left = for_ms; left > 0; left = until - wall_ms()) {
      auto envelope = subscriber_.receive(static_cast<int>(left));
      if (!envelope) continue;
      if (envelope->topic == topic::app_metrics(app_)) {
        if (auto m = codec::decode<msg::AppMetrics>(envelope->body); m.ok() && m->app == app_)
          figures.push_back({wall_ms(), *m});
      } else if (envelope->topic == topic::decision(app_)) {
        if (auto d = codec::decode<msg::AutoscaleDecision>(envelope->body); d.ok() && d->app == app_)
          decisions.push_back(*d);
      }
    }
  }

  struct Figures {
    int64_t received_ms = 0;
    msg::AppMetrics m;
  };
  std::vector<Figures> figures;
  std::vector<msg::AutoscaleDecision> decisions;

 private:
  std::string app_;
  zmq::context_t context_;
  bus::Subscriber subscriber_;
};

std::string describe(const msg::AutoscaleDecision& d) {
  return std::to_string(d.current) + "->" + std::to_string(d.desired) + " " + d.rule;
}

// The demo app's policy in the load test: requests/s per instance is the target that moves (CPU is a
// second target, high enough that the request rate always decides).
constexpr double kTargetRps = 15;
constexpr double kTargetCpu = 90;
constexpr int kUpWindowS = 3;
constexpr int kDownWindowS = 15;
constexpr int kCooldownS = 5;

// What the load asks for in one set of figures: the autoscaler's per-sample answer (autoscaler.h).
int answer_of(const msg::AppMetrics& m) {
  int answer = 0;
  if (m.requests_per_second >= 0) answer = static_cast<int>(std::ceil(m.requests_per_second / kTargetRps - 1e-9));
  if (m.cpu_percent >= 0 && m.instances > 0)
    answer = std::max(answer, static_cast<int>(std::ceil(m.instances * m.cpu_percent / kTargetCpu - 1e-9)));
  return answer;
}

// The first decision that `is_change` picks, as a copy (the watch keeps reading).
std::optional<msg::AutoscaleDecision> first_change(
    const std::vector<msg::AutoscaleDecision>& decisions,
    const std::function<bool(const msg::AutoscaleDecision&)>& is_change) {
  for (const auto& d : decisions)
    if (is_change(d)) return d;
  return std::nullopt;
}

std::string summary(const loadgen::Report& r) {
  std::ostringstream out;
  out << r.sent << " sent, " << r.failed() << " failed, " << std::lround(r.requests_per_second) << " req/s, p95 "
      << r.p95_ms << " ms";
  return out.str();
}

TEST(AutoscaleLoadTest, LoadScalesUpWithinTenSecondsOfCrossingAndDownOnlyAfterTheDownWindow) {
  auto s = fast_stack();
  ASSERT_TRUE(s->wait_for_hosts()) << s->log("agent");
  const std::string app = "busy" + std::to_string(::getpid() % 100000);
  const int port = free_port();
  std::ostringstream policy;
  policy << "  min: 1\n  max: 4\n  targets: {requests_per_second: " << kTargetRps << ", cpu_percent: " << kTargetCpu
         << "}\n  up_window_s: " << kUpWindowS << "\n  down_window_s: " << kDownWindowS
         << "\n  cooldown_s: " << kCooldownS << "\n  max_step: 2\n  stale_after_s: 10\n";
  AppWatch watch(s->bus_endpoints(), app);
  auto deployed = deploy_with_policy(*s, app, port, policy.str());
  ASSERT_EQ(deployed.exit_code, 0) << deployed.output << deployed.error << s->log("agent");
  ASSERT_TRUE(wait_until([&] { return distinct(answers(port, "/", 3)).size() == 1; }, 20s));
  // Idle: figures flow and the autoscaler holds at the min.
  watch.poll(3000);
  ASSERT_FALSE(watch.figures.empty()) << "no metrics.app." << app << " from pier-metrics\n" << s->log("metrics");

  // 5 workers paced at 11 req/s each: 55 req/s of 10 ms of CPU each (0.55 of a core), 3.7 instances'
  // worth at 15 req/s per instance, so the answer is 4 (the max) until the rate falls below 45.
  loadgen::Options heavy;
  heavy.port = port;
  heavy.paths = {"/work?ms=10"};
  heavy.keepalive_workers = 3;
  heavy.fresh_workers = 2;
  heavy.requests_per_second = 11;
  heavy.max_requests = 1'000'000;
  heavy.max_duration_ms = 60'000;
  auto load = std::make_unique<loadgen::LoadGenerator>(heavy);
  const int64_t load_start_ms = wall_ms();
  load->start();

  // One timeline row per second: requests sent by the load generators, the figures pier-metrics
  // published last, and the decisions recorded during that second.
  std::unique_ptr<loadgen::LoadGenerator> trickle;
  int64_t last_row_ms = load_start_ms, last_sent = 0;
  int64_t sent_before = 0;  // by the generators already stopped, and the test's own requests
  std::size_t decisions_shown = 0;
  std::vector<std::string> timeline;
  const auto tick = [&] {
    watch.poll(100);
    const int64_t now = wall_ms();
    if (now - last_row_ms < 1000) return;
    const int64_t sent = sent_before + (load ? load->sent() : 0) + (trickle ? trickle->sent() : 0);
    std::string decided;
    for (; decisions_shown < watch.decisions.size(); ++decisions_shown)
      decided += (decided.empty() ? "" : ", ") + describe(watch.decisions[decisions_shown]);
    std::ostringstream row;
    row << "[ timeline ] " << (now - load_start_ms) / 1000 << " | "
        << std::lround(static_cast<double>(sent - last_sent) * 1000.0 / static_cast<double>(now - last_row_ms))
        << " | ";
    if (watch.figures.empty()) {
      row << "- | - | - | ";
    } else {
      const auto& m = watch.figures.back().m;
      row << (m.requests_per_second >= 0 ? std::to_string(std::lround(m.requests_per_second)) : "-") << " | "
          << m.replicas << " | " << m.running << " | ";
    }
    row << (load ? "heavy" : trickle ? "trickle" : "none") << " | " << (decided.empty() ? "" : decided);
    timeline.push_back(row.str());
    std::cout << row.str() << std::endl;
    last_row_ms = now;
    last_sent = sent;
  };
  const auto run_until = [&](const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    const int64_t deadline = wall_ms() + timeout.count();
    while (wall_ms() < deadline) {
      tick();
      if (done()) return true;
    }
    return false;
  };
  const auto latest_replicas = [&] { return watch.figures.empty() ? 0 : watch.figures.back().m.replicas; };
  const auto all_running = [&](int n) {
    bool running = false;
    return static_cast<int>(placement(s->ps(), app, &running).size()) == n && running;
  };

  // Up: to the max, every instance answering through HAProxy.
  const bool up = run_until([&] { return latest_replicas() == 4 && all_running(4); }, 40s);
  ASSERT_TRUE(up) << "replicas " << latest_replicas() << "\n" << s->log("metrics");
  std::set<std::string> served;
  ASSERT_TRUE(run_until(
      [&] {
        for (const auto& id : distinct(answers(port, "/", 8))) served.insert(id);
        sent_before += 8;
        return served == instance_ids(s->ps(), app);
      },
      20s))
      << "instances answering: " << ::testing::PrintToString(served);
  EXPECT_EQ(processes_of_app(app), 4);

  // The crossing: the first figures after the load started whose answer exceeds the replicas then.
  std::optional<int64_t> crossed_ms;
  for (const auto& f : watch.figures)
    if (f.m.time_ms >= load_start_ms && answer_of(f.m) > f.m.replicas) {
      crossed_ms = f.m.time_ms;
      break;
    }
  const auto first_up = first_change(watch.decisions, [](const auto& d) { return d.desired > d.current; });
  ASSERT_TRUE(crossed_ms.has_value()) << "no figures above the target";
  ASSERT_TRUE(first_up.has_value());
  EXPECT_EQ(first_up->rule, "scale-up") << first_up->explanation;
  EXPECT_EQ(first_up->current, 1);
  // The figures are published once per decision (every second) with the newest sample, so the first
  // sample above the target may have arrived up to a second before the figures that showed it: the
  // bound is 10 s less that second.
  const int64_t up_after_ms = first_up->time_ms - *crossed_ms;
  EXPECT_LE(up_after_ms + 1000, 10'000) << first_up->explanation;

  // Down: the heavy load stops; a trickle (4 req/s, one instance's worth) goes on through the scale-in.
  const int64_t load_stop_ms = wall_ms();
  const auto heavy_report = load->stop();
  sent_before += heavy_report.sent;
  load.reset();
  loadgen::Options light = heavy;
  light.paths = {"/work?ms=1"};
  light.keepalive_workers = 1;
  light.fresh_workers = 1;
  light.requests_per_second = 2;
  trickle = std::make_unique<loadgen::LoadGenerator>(light);
  trickle->start();
  const bool down = run_until([&] { return latest_replicas() == 1 && all_running(1); },
                              std::chrono::seconds(kDownWindowS + 3 * kCooldownS + 15));
  const auto trickle_report = trickle->stop();
  sent_before += trickle_report.sent;
  trickle.reset();
  run_until([] { return false; }, 2s);  // two rows after the trickle
  ASSERT_TRUE(down) << "replicas " << latest_replicas() << "\n" << s->log("metrics");
  EXPECT_TRUE(wait_until([&] { return processes_of_app(app) == 1; }, 10s)) << processes_of_app(app);

  const auto first_down = first_change(watch.decisions, [](const auto& d) { return d.desired < d.current; });
  ASSERT_TRUE(first_down.has_value());
  EXPECT_EQ(first_down->rule, "scale-down") << first_down->explanation;
  EXPECT_GE(first_down->time_ms, load_stop_ms) << "scaled down under load: " << first_down->explanation;
  // The last figures before it that did not ask to go down: the down window starts after them.
  int64_t last_high_ms = 0;
  for (const auto& f : watch.figures)
    if (f.m.time_ms > 0 && f.m.time_ms < first_down->time_ms && answer_of(f.m) >= f.m.replicas)
      last_high_ms = std::max(last_high_ms, f.m.time_ms);
  EXPECT_GT(first_down->time_ms - last_high_ms, kDownWindowS * 1000)
      << "scaled down before the down window had passed: " << first_down->explanation;
  EXPECT_LE(first_down->time_ms - load_stop_ms, (kDownWindowS + 8) * 1000) << first_down->explanation;

  // Drained first: every instance the scale-in removed was drained (out of HAProxy, no connection
  // left) before the agent stopped it.
  const std::string agent_log = s->log("agent");
  int removed = 0;
  for (int n = 1; n <= 8; ++n) {
    const std::string id = app + "-" + std::to_string(n);
    const auto stopping = agent_log.find("stopping instance " + id + " ");
    if (stopping == std::string::npos) continue;
    ++removed;
    const auto drained =
        agent_log.find("instance " + id + " of app " + app + " on host " + s->hosts()[0].value("id", "") + " drained");
    EXPECT_NE(drained, std::string::npos) << id << " was stopped without being drained\n" << agent_log;
    EXPECT_LT(drained, stopping) << id << ": drained before it was stopped";
  }
  EXPECT_GE(removed, 3) << "the scale-in from 4 to 1 stopped 3 instances";

  EXPECT_GT(heavy_report.sent, 500);
  EXPECT_EQ(heavy_report.failed(), 0) << heavy_report.to_text();
  EXPECT_GT(trickle_report.sent, 20);
  EXPECT_EQ(trickle_report.failed(), 0) << trickle_report.to_text();

  // `pier why` tells the same story from pier-metrics' store.
  auto why = s->pier({"why", app, "--last", "50", "--output", "json", "--metrics-url", s->dev_env("PIER_METRICS_URL")});
  ASSERT_EQ(why.exit_code, 0) << why.output << why.error;
  std::set<std::string> rules;
  const auto listed = nlohmann::json::parse(why.output, nullptr, false);
  if (listed.is_object() && listed["decisions"].is_array())
    for (const auto& d : listed["decisions"]) rules.insert(d.value("rule", ""));
  EXPECT_TRUE(rules.count("scale-up") && rules.count("scale-down")) << why.output;

  std::cout << "[ measured ] scale-up decided " << up_after_ms << " ms after the request rate crossed the target ("
            << describe(*first_up) << "); scale-down " << first_down->time_ms - load_stop_ms
            << " ms after the load stopped, " << first_down->time_ms - last_high_ms
            << " ms after the last figures that did not ask for it (down window " << kDownWindowS << " s); heavy load "
            << summary(heavy_report) << "; trickle " << summary(trickle_report) << std::endl;
}

// The next whole local hour at least `lead_s` from now in `zone` (periods start on whole hours).
int64_t next_hour_start_s(const TimeZone& zone, int64_t now_s, int64_t lead_s) {
  const int64_t from = now_s + lead_s;
  const int64_t local = zone.to_local_s(from);
  const int64_t next_local = (local + 3599) / 3600 * 3600;
  return from + (next_local - local);
}

TEST(AutoscalePrewarmTest, TheFloorOfAComingPeriodIsReachedBeforeItBegins) {
  // Periods start on whole local hours: the zone whose next hour begins soonest (at least 60 s from now)
  // is chosen, among offsets of whole, half and three-quarter hours (UTC, India +5:30, Nepal +5:45),
  // so the period starts 1 to 16 minutes from now on the real clock.
  auto s = fast_stack();
  ASSERT_TRUE(s->wait_for_hosts()) << s->log("agent");
  std::string zone_name;
  int64_t period_start_s = 0;
  int start_hour = 0;
  const int64_t now_s = wall_ms() / 1000;
  for (const char* name : {"UTC", "Asia/Kolkata", "Asia/Kathmandu"}) {
    auto zone = load_time_zone(name);
    ASSERT_TRUE(zone.ok()) << name << ": " << zone.status().message();
    const int64_t start = next_hour_start_s(*zone, now_s, 60);
    if (zone_name.empty() || start < period_start_s) {
      zone_name = name;
      period_start_s = start;
      start_hour = static_cast<int>(zone->to_local_s(start) % 86400 / 3600);
    }
  }
  // The floor goes up 25 s from now, well before the period begins.
  const int64_t raise_at_s = now_s + 25;
  const int64_t prewarm_s = period_start_s - raise_at_s;
  const std::string app = "warm" + std::to_string(::getpid() % 100000);
  const int port = free_port();
  std::ostringstream policy;
  policy << "  min: 1\n  max: 4\n  timezone: " << zone_name << "\n  prewarm_s: " << prewarm_s
         << "\n  schedule: [{start_hour: " << start_hour << ", end_hour: " << (start_hour + 1) % 24
         << ", min: 3, max: 4}]\n";
  AppWatch watch(s->bus_endpoints(), app);
  auto deployed = deploy_with_policy(*s, app, port, policy.str());
  ASSERT_EQ(deployed.exit_code, 0) << deployed.output << deployed.error << s->log("agent");
  ASSERT_LT(wall_ms() / 1000, raise_at_s) << "deployed too late to watch the floor rise";

  std::optional<msg::AutoscaleDecision> floor;
  const auto raised = [&] {
    watch.poll(100);
    for (const auto& d : watch.decisions)
      if (d.desired > d.current) floor = d;
    return floor.has_value();
  };
  ASSERT_TRUE(wait_until(raised, std::chrono::seconds(raise_at_s - wall_ms() / 1000 + 15))) << s->log("metrics");
  EXPECT_EQ(floor->rule, "floor");
  EXPECT_EQ(floor->desired, 3);
  EXPECT_NE(floor->explanation.find("pre-warm"), std::string::npos) << floor->explanation;
  EXPECT_GE(floor->time_ms, raise_at_s * 1000) << "the floor rose before the pre-warm lead: " << floor->explanation;
  EXPECT_LE(floor->time_ms, raise_at_s * 1000 + 3000) << floor->explanation;
  for (const auto& f : watch.figures)
    if (f.received_ms < raise_at_s * 1000) {
      EXPECT_EQ(f.m.replicas, 1) << "replicas before the pre-warm lead";
    }

  const bool reached = wait_until(
      [&] {
        bool running = false;
        return placement(s->ps(), app, &running).size() == 3 && running && distinct(answers(port, "/", 9)).size() == 3;
      },
      30s);
  const int64_t reached_ms = wall_ms();
  ASSERT_TRUE(reached) << s->log("agent");
  EXPECT_LT(reached_ms, period_start_s * 1000) << "the floor was reached after the period began";
  std::cout << "[ measured ] pre-warm: period " << start_hour << ":00-" << (start_hour + 1) % 24 << ":00 " << zone_name
            << " starts " << period_start_s - now_s << " s after the test began, prewarm_s " << prewarm_s
            << "; floor decision " << floor->time_ms - raise_at_s * 1000
            << " ms after the lead began, 3 instances serving " << period_start_s * 1000 - reached_ms
            << " ms before the period starts (" << floor->explanation << ")" << std::endl;
}

// Runs a program; its exit code, or -1 when it cannot be started.
int run_program(const std::vector<std::string>& argv, const std::string& output_path) {
  process::SpawnOptions options;
  options.argv = argv;
  options.output_path = output_path;
  options.error_path = output_path + ".err";
  auto pid = process::spawn(options);
  if (!pid.ok()) return -1;
  return process::wait(*pid);
}

// The Prometheus Python client's text parser (Debian python3-prometheus-client): every sample of the
// text as {name, labels, value} (the value as text: NaN is not JSON). It raises on text it cannot parse.
constexpr const char* kParse = R"(
import json, sys
from prometheus_client.parser import text_string_to_metric_families
samples = []
for family in text_string_to_metric_families(open(sys.argv[1]).read()):
    for sample in family.samples:
        samples.append({"family": family.name, "type": family.type, "name": sample.name,
                        "labels": sample.labels, "value": repr(sample.value)})
print(json.dumps(samples))
)";

TEST(MetricsEndpointTest, CurlMetricsUnderLoadParsesAsPrometheusTextWithTheAppsRequestRate) {
  auto s = fast_stack();
  ASSERT_TRUE(s->wait_for_hosts()) << s->log("agent");
  const std::string app = "rate" + std::to_string(::getpid() % 100000);
  const int port = free_port();
  ASSERT_EQ(s->pier(deploy_args(app, port, 2)).exit_code, 0) << s->log("agent");
  loadgen::Options o;
  o.port = port;
  o.paths = {"/work?ms=2"};
  o.keepalive_workers = 2;
  o.fresh_workers = 1;
  o.requests_per_second = 10;
  o.max_duration_ms = 40'000;
  loadgen::LoadGenerator load(o);
  load.start();

  const std::string url = s->dev_env("PIER_METRICS_URL");
  ASSERT_FALSE(url.empty());
  const std::string text_path = s->state_dir() + "/metrics.txt";
  const std::string parsed_path = s->state_dir() + "/metrics.json";
  const std::string rate_series = "pier_app_requests_per_second{app=\"" + app + "\"}";
  std::string content_type, text;
  // curl until the app's rate shows (the agent's second sample under load gives the first rate).
  const bool has_rate = wait_until(
      [&] {
        if (run_program({"curl", "-sS", "-f", "-o", text_path, "-w", "%{content_type}", url}, text_path + ".type") != 0)
          return false;
        content_type = read_file(text_path + ".type");
        text = read_file(text_path);
        const auto at = text.find("\n" + rate_series + " ");
        return at != std::string::npos && std::atof(text.c_str() + at + rate_series.size() + 2) > 0;
      },
      20s);
  const auto report = load.stop();
  ASSERT_TRUE(has_rate) << text;
  EXPECT_EQ(content_type.rfind("text/plain", 0), 0u) << content_type;
  EXPECT_NE(content_type.find("version=0.0.4"), std::string::npos) << content_type;

  // An independent parser: the Prometheus Python client's (Debian's python3, not a virtualenv's).
  const int parsed = run_program({"/usr/bin/python3", "-c", kParse, text_path}, parsed_path);
  ASSERT_EQ(parsed, 0) << "the Prometheus client's parser refused the text (or python3-prometheus-client is not "
                          "installed: scripts/bootstrap.sh)\n"
                       << read_file(parsed_path + ".err") << "\n"
                       << text;
  const auto samples = nlohmann::json::parse(read_file(parsed_path), nullptr, false);
  ASSERT_TRUE(samples.is_array()) << read_file(parsed_path);
  double rate = -1;
  std::set<std::string> families;
  for (const auto& sample : samples) {
    families.insert(sample.value("family", ""));
    if (sample.value("name", "") == "pier_app_requests_per_second" && sample["labels"].value("app", "") == app) {
      rate = std::stod(sample.value("value", "-1"));
      EXPECT_EQ(sample.value("type", ""), "gauge");
    }
  }
  EXPECT_GT(rate, 0) << "pier_app_requests_per_second{app=\"" << app << "\"} in the parsed text";
  for (const char* family : {"pier_host_cpu_percent", "pier_app_replicas", "pier_instance_cpu_percent",
                             "pier_app_current_sessions", "pier_metrics_messages_received"})
    EXPECT_TRUE(families.count(family)) << family;
  // And the exposition grammar, line by line (one HELP/TYPE per family, samples together, no series twice).
  EXPECT_EQ(metrics::testing::exposition_problems(text), std::vector<std::string>{});
  EXPECT_EQ(report.failed(), 0) << report.to_text();
  std::cout << "[ measured ] /metrics: " << samples.size() << " samples in " << families.size()
            << " families parsed by prometheus_client; " << rate_series << " = " << rate << " (load " << summary(report)
            << ")" << std::endl;
}

}  // namespace
}  // namespace pier::e2e
