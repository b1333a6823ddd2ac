// Saturation (issue 12, "a slow host is not a dead host"): the whole stack under load that is not paced
// (12 keep-alive + 12 new-connection workers sending as fast as the answers come, both cores busy).
// - One host, 45 s: 20 scale events 3 <-> 7, two rolling redeploys and an instance SIGKILLed fail no
//   request, every command is live within its deadline, the registry never calls the host anything but
//   up, and the agent never logs a late heartbeat.
// - Two hosts, the second host's agent SIGSTOPped for 10 s (its HAProxy and instances keep running): no
//   failed request, the host is suspect and replacements run on the first host while the stopped host's
//   instances are still listed; after SIGCONT the app is back to its replicas within 5 s, and it never
//   had fewer running.
// `pier ps` / `pier hosts` are polled every 200 ms from threads of their own; the agent's heartbeats are
// also watched on the bus. Each test prints a "[ fault ] ..." line for bench/faults/run.sh.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <zmq.hpp>

#include "bench/loadgen/loadgen.h"
#include "common/bus.h"
#include "common/topics.h"
#include "tests/e2e/harness.h"

namespace pier::e2e {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

int64_t ms_between(Steady::time_point from, Steady::time_point to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

// Runs `take` (a `pier ... --output json`, a counter) every 200 ms on a thread of its own and keeps every
// answer with the time it came, until stop() or `max` passed. A failed command gives a null sample.
class Sampler {
 public:
  struct Sample {
    Steady::time_point at;
    nlohmann::json json;
  };

  Sampler(std::function<nlohmann::json()> take, std::chrono::milliseconds max)
      : take_(std::move(take)), thread_([this, max] { run(max); }) {}
  ~Sampler() { stop(); }
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::vector<Sample> samples() const {
    std::lock_guard lock(mutex_);
    return samples_;
  }
  // The answered samples taken after `from`.
  std::vector<Sample> since(Steady::time_point from) const {
    std::vector<Sample> out;
    for (auto& s : samples())
      if (s.at > from && !s.json.is_null()) out.push_back(std::move(s));
    return out;
  }
  int unanswered() const {
    int n = 0;
    for (const auto& s : samples()) n += s.json.is_null();
    return n;
  }

 private:
  void run(std::chrono::milliseconds max) {
    const auto end = Steady::now() + max;
    auto next = Steady::now();
    while (!stop_ && Steady::now() < end) {
      auto json = take_();
      {
        std::lock_guard lock(mutex_);
        samples_.push_back({Steady::now(), std::move(json)});
      }
      next = std::max(next + 200ms, Steady::now());
      std::this_thread::sleep_until(next);  // the sampling period, not synchronisation
    }
  }

  std::function<nlohmann::json()> take_;
  mutable std::mutex mutex_;
  std::vector<Sample> samples_;
  std::atomic<bool> stop_{false};
  std::thread thread_;  // last: it starts once the rest is made
};

// Every agent heartbeat on the bus, by host: the longest gap between two of them by the agent's own clock
// (the header's time, set when the agent published), so the watcher's own delays do not count.
class HeartbeatWatch {
 public:
  HeartbeatWatch(bus::Endpoints bus_sub, std::chrono::milliseconds max)
      : thread_([this, endpoint = std::move(bus_sub), max] { run(endpoint, max); }) {}
  ~HeartbeatWatch() { stop(); }
  HeartbeatWatch(const HeartbeatWatch&) = delete;
  HeartbeatWatch& operator=(const HeartbeatWatch&) = delete;

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int64_t longest_gap_ms(const std::string& host) const {
    std::lock_guard lock(mutex_);
    auto h = hosts_.find(host);
    return h == hosts_.end() ? -1 : h->second.longest_gap_ms;
  }
  int64_t count(const std::string& host) const {
    std::lock_guard lock(mutex_);
    auto h = hosts_.find(host);
    return h == hosts_.end() ? 0 : h->second.count;
  }

 private:
  struct Seen {
    int64_t last_ms = 0, longest_gap_ms = -1, count = 0;
  };
  void run(const bus::Endpoints& endpoint, std::chrono::milliseconds max) {
    zmq::context_t context(1);
    bus::Subscriber heartbeats(context, endpoint, {std::string(topic::kHeartbeatPrefix)});
    const auto end = Steady::now() + max;
    while (!stop_ && Steady::now() < end) {
      auto e = heartbeats.receive(100);
      if (!e) continue;
      std::lock_guard lock(mutex_);
      auto& seen = hosts_[e->topic.substr(topic::kHeartbeatPrefix.size())];
      if (seen.count++ > 0) seen.longest_gap_ms = std::max(seen.longest_gap_ms, e->header.time_ms - seen.last_ms);
      seen.last_ms = e->header.time_ms;
    }
  }

  mutable std::mutex mutex_;
  std::map<std::string, Seen> hosts_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The lines of `log` that contain any of `needles`.
std::vector<std::string> lines_with(const std::string& log, const std::vector<std::string>& needles) {
  std::vector<std::string> out;
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line))
    if (std::any_of(needles.begin(), needles.end(), [&](const auto& n) { return line.find(n) != std::string::npos; }))
      out.push_back(line);
  return out;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += "  " + l + "\n";
  return out;
}

// The last `count` lines of `log`.
std::string tail(const std::string& log, std::size_t count) {
  std::size_t at = log.size();
  for (std::size_t n = 0; n <= count && at != std::string::npos && at > 0; ++n) at = log.rfind('\n', at - 1);
  return at == std::string::npos ? log : log.substr(at + 1);
}

// The agent's "heartbeat late: {gap} ms since the previous one (period {period} ms)" lines, and the
// largest gap among them (-1 when there is none).
constexpr std::string_view kLate = "heartbeat late: ";
int64_t largest_late_gap(const std::vector<std::string>& late_lines) {
  int64_t largest = -1;
  for (const auto& line : late_lines) {
    const auto at = line.find(kLate);
    if (at == std::string::npos) continue;
    largest = std::max<int64_t>(largest, std::atoll(line.c_str() + at + kLate.size()));
  }
  return largest;
}

// An app's instances whose state is "running", by host (draining ones do not count).
std::map<std::string, std::set<std::string>> running_by_host(const nlohmann::json& ps, const std::string& app) {
  std::map<std::string, std::set<std::string>> out;
  if (ps.is_array())
    for (const auto& i : ps)
      if (i.value("app", "") == app && i.value("state", "") == "running")
        out[i.value("host", "")].insert(i.value("id", ""));
  return out;
}

std::size_t running_count(const nlohmann::json& ps, const std::string& app) {
  std::size_t n = 0;
  for (const auto& [host, ids] : running_by_host(ps, app)) n += ids.size();
  return n;
}

// One line per sample whose instances (id, host, state) differ from the previous one's, for diagnosis.
std::string ps_timeline(const std::vector<Sampler::Sample>& samples, const std::string& app, Steady::time_point zero) {
  std::string out, previous;
  for (const auto& s : samples) {
    std::string now;
    if (s.json.is_array())
      for (const auto& i : s.json)
        if (i.value("app", "") == app)
          now += " " + i.value("id", "") + "@" + i.value("host", "") + ":" + i.value("state", "");
    if (now == previous) continue;
    out += "  " + std::to_string(ms_between(zero, s.at)) + " ms: running " +
           std::to_string(running_count(s.json, app)) + " |" + now + "\n";
    previous = now;
  }
  return out;
}

// A host's status changes in the samples of `pier hosts`.
std::string status_timeline(const std::vector<Sampler::Sample>& samples, const std::string& host,
                            Steady::time_point zero) {
  std::string out, previous;
  for (const auto& s : samples) {
    const std::string now = host_status(s.json, host);
    if (now == previous) continue;
    out += "  " + std::to_string(ms_between(zero, s.at)) + " ms: " + host + " " + (now.empty() ? "absent" : now) + "\n";
    previous = now;
  }
  return out;
}

// When requests failed: spans of samples of the load's failure count in which it rose.
std::string failure_spans(const std::vector<Sampler::Sample>& samples, Steady::time_point zero) {
  std::string out;
  int64_t previous = 0, span_from = 0, span_start_count = 0;
  bool in_span = false;
  Steady::time_point last_at = zero;
  const auto close = [&] {
    out += "  from " + std::to_string(span_from) + " ms for " + std::to_string(ms_between(zero, last_at) - span_from) +
           " ms: " + std::to_string(previous - span_start_count) + " failed\n";
    in_span = false;
  };
  for (const auto& s : samples) {
    const int64_t failed = s.json.is_number() ? s.json.get<int64_t>() : previous;
    if (failed > previous && !in_span) {
      in_span = true;
      span_from = ms_between(zero, last_at);
      span_start_count = previous;
    } else if (failed == previous && in_span) {
      close();
    }
    previous = failed;
    last_at = s.at;
  }
  if (in_span) close();
  return out.empty() ? "  none\n" : out;
}

// One scenario step: what it was, when it started (ms since the load started), how long it took, how it
// ended.
struct Step {
  std::string what;
  int64_t at_ms = 0;
  int64_t took_ms = 0;
  int exit_code = -1;
  std::string output;
};

std::string describe(const std::vector<Step>& steps) {
  std::string out;
  for (const auto& s : steps)
    out += "  at " + std::to_string(s.at_ms) + " ms: " + s.what + " -> exit " + std::to_string(s.exit_code) + " in " +
           std::to_string(s.took_ms) + " ms" + (s.exit_code == 0 ? "" : ": " + s.output) + "\n";
  return out;
}

constexpr int kCommandTimeoutS = 60;  // every pier command's own deadline (`--timeout`)
constexpr int kCommandKillS = 90;     // the harness kills a command that outlives its own deadline

TEST(SaturationTest, OneHostThroughScalingRedeploysAndAKillUnderUnpacedLoadFailsNothingAndStaysUp) {
  Stack s;
  ASSERT_TRUE(s.wait_for_hosts()) << s.log("agent") << s.log("registry");
  ASSERT_TRUE(wait_until([&] { return !s.dev_env("PIER_BUS_SUB").empty(); }, 10s)) << s.dev_output();
  const std::string host = s.hosts()[0].value("id", "");
  const std::string app = "sat" + std::to_string(::getpid() % 100000);
  const int port = free_port();
  auto deployed = s.pier(deploy_args(app, port, 3), kCommandKillS);
  ASSERT_EQ(deployed.exit_code, 0) << deployed.output << deployed.error << s.log("agent");
  ASSERT_TRUE(wait_until([&] { return distinct(answers(port, "/", 9)).size() == 3; }, 20s));

  // The plan: 20 scale events 3 <-> 7 with a rolling redeploy after the 6th and the 16th (at 3 replicas)
  // and an instance SIGKILLed after the 10th, spread evenly over 45 s.
  std::vector<std::string> plan;
  for (int event = 0; event < 20; ++event) {
    plan.push_back(event % 2 == 0 ? "scale 7" : "scale 3");
    if (event == 5) plan.push_back("deploy V=1");
    if (event == 9) plan.push_back("kill");
    if (event == 15) plan.push_back("deploy V=2");
  }
  const auto scenario = 45s;
  const auto spacing = std::chrono::milliseconds(scenario) / static_cast<int64_t>(plan.size());
  const auto overrun = 120s;  // no step starts later than this after the load started

  HeartbeatWatch beats(s.bus_endpoints(), 300s);
  Sampler hosts_seen([&] { return s.hosts(); }, 300s);
  loadgen::LoadGenerator load(saturating_load(port, 280'000));
  const auto started = Steady::now();
  load.start();
  Sampler failures([&] { return nlohmann::json(load.failed()); }, 300s);

  std::vector<Step> steps;
  int replicas = 3;
  std::string redeploy_errors;
  for (std::size_t k = 0; k < plan.size(); ++k) {
    std::this_thread::sleep_until(started + static_cast<int64_t>(k) * spacing);  // the scenario's pace
    if (Steady::now() > started + overrun) break;
    Step step;
    step.what = plan[k];
    step.at_ms = ms_since(started);
    const auto begun = Steady::now();
    if (plan[k].starts_with("scale")) {
      const std::string to = plan[k].substr(6);
      step.what = "scale " + std::to_string(replicas) + " -> " + to;
      auto r = s.pier({"scale", app, to, "--timeout", std::to_string(kCommandTimeoutS)}, kCommandKillS);
      step.exit_code = r.exit_code;
      step.output = r.output + r.error;
      replicas = std::stoi(to);
    } else if (plan[k].starts_with("deploy")) {
      // A changed env var: every instance is replaced, one at a time.
      const auto before = not_draining(s.ps(), app);
      auto args = deploy_args(app, port, replicas);
      args.insert(args.end(), {"--env", plan[k].substr(7)});
      auto r = s.pier(args, kCommandKillS);
      step.exit_code = r.exit_code;
      step.output = r.output + r.error;
      for (const auto& id : not_draining(s.ps(), app))
        if (before.count(id) > 0) redeploy_errors += plan[k] + ": " + id + " was not replaced\n";
    } else {
      pid_t victim = 0;
      wait_until(
          [&] {
            for (const auto& i : s.ps())
              if (i.value("app", "") == app && i.value("state", "") == "running" && i.value("pid", 0) > 0) {
                victim = i.value("pid", 0);
                step.what = "SIGKILL instance " + i.value("id", "") + " (pid " + std::to_string(victim) + ")";
                return true;
              }
            return false;
          },
          30s);
      step.exit_code = victim > 0 && ::kill(victim, SIGKILL) == 0 ? 0 : 1;
      if (victim == 0) step.output = "no running instance with a pid in pier ps";
    }
    step.took_ms = ms_since(begun);
    std::cout << "[ step ] at " << step.at_ms << " ms: " << step.what << " -> exit " << step.exit_code << " in "
              << step.took_ms << " ms" << std::endl;
    steps.push_back(std::move(step));
  }
  std::this_thread::sleep_until(started + scenario);
  // Back to `replicas` running (the killed one restarted), before the load stops.
  const bool settled =
      wait_until([&] { return running_count(s.ps(), app) == static_cast<std::size_t>(replicas); }, 30s);
  failures.stop();
  const auto report = load.stop();
  const int64_t scenario_ms = ms_since(started);
  hosts_seen.stop();
  beats.stop();

  // What the registry said about the host: every sample, and its log.
  std::vector<std::string> not_up;
  const auto samples = hosts_seen.since(started);
  for (const auto& sample : samples)
    if (const auto status = host_status(sample.json, host); status != "up")
      not_up.push_back(std::to_string(ms_between(started, sample.at)) + " ms: " + (status.empty() ? "absent" : status));
  const auto registry_says =
      lines_with(s.log("registry"), {"host " + host + " suspect", "host " + host + " down", "host " + host + " up"});
  const auto late = lines_with(s.log("agent"), {std::string(kLate)});
  const int64_t largest_logged_gap = largest_late_gap(late);
  const int64_t bus_gap = beats.longest_gap_ms(host);

  EXPECT_EQ(report.failed(), 0) << "failed requests (diagnosis below)";
  EXPECT_GT(report.keepalive_sent, 0);
  EXPECT_GT(report.fresh_sent, 0);
  EXPECT_EQ(steps.size(), plan.size()) << "the scenario overran " << overrun.count() << " s";
  int64_t slowest_ms = 0, slowest_scale_ms = 0;
  std::string deploys;
  for (const auto& step : steps) {
    EXPECT_EQ(step.exit_code, 0) << step.what << " at " << step.at_ms << " ms failed (its output below)";
    EXPECT_LE(step.took_ms, kCommandTimeoutS * 1000) << step.what << " was not live within its deadline";
    slowest_ms = std::max(slowest_ms, step.took_ms);
    if (step.what.starts_with("scale")) slowest_scale_ms = std::max(slowest_scale_ms, step.took_ms);
    if (step.what.starts_with("deploy")) deploys += (deploys.empty() ? "" : ", ") + std::to_string(step.took_ms);
  }
  EXPECT_EQ(redeploy_errors, "");
  EXPECT_TRUE(settled) << "the app never had " << replicas << " running instances again";
  EXPECT_TRUE(not_up.empty()) << "the registry called the host " << host << " something other than up:\n"
                              << joined(not_up);
  EXPECT_TRUE(lines_with(s.log("registry"), {"host " + host + " suspect", "host " + host + " down"}).empty())
      << joined(registry_says);
  EXPECT_GE(samples.size(), 20u) << "`pier hosts` answered too rarely to watch the host (" << hosts_seen.unanswered()
                                 << " unanswered)";
  EXPECT_TRUE(late.empty()) << "the agent sent heartbeats late:\n" << joined(late);
  if (HasFailure())
    std::cout << "[ diagnosis ] steps (ms since the load started):\n"
              << describe(steps) << "requests failed (ms since the load started):\n"
              << failure_spans(failures.samples(), started) << "load: " << report.to_text() << "host statuses:\n"
              << status_timeline(samples, host, started) << "registry about the host:\n"
              << joined(registry_says) << "pier ps at the end:\n"
              << s.pier({"ps", app}, 30).output << "agent log, last lines:\n"
              << tail(s.log("agent"), 30);

  RecordProperty("sent", static_cast<int>(report.sent));
  RecordProperty("failed", static_cast<int>(report.failed()));
  RecordProperty("slowest_step_ms", static_cast<int>(slowest_ms));
  RecordProperty("host_not_up_samples", static_cast<int>(not_up.size()));
  RecordProperty("heartbeat_late_lines", static_cast<int>(late.size()));
  RecordProperty("largest_logged_heartbeat_gap_ms", static_cast<int>(largest_logged_gap));
  RecordProperty("longest_heartbeat_gap_on_bus_ms", static_cast<int>(bus_gap));
  const std::string logged = late.empty() ? "no heartbeat-late line"
                                          : std::to_string(late.size()) + " heartbeat-late lines, largest gap " +
                                                std::to_string(largest_logged_gap) + " ms";
  report_fault("saturation, one host: 20 scales 3<->7, 2 rolling redeploys, 1 instance SIGKILL (unpaced 12+12, 45 s)",
               report.sent, report.failed(), slowest_ms,
               std::to_string(steps.size()) + "/" + std::to_string(plan.size()) +
                   " steps, converged = slowest step live; slowest scale " + std::to_string(slowest_scale_ms) +
                   " ms, redeploys " + deploys + " ms; host not up in " + std::to_string(not_up.size()) + " of " +
                   std::to_string(samples.size()) + " samples; " + logged + "; longest heartbeat gap on the bus " +
                   std::to_string(bus_gap) + " ms; " +
                   std::to_string(static_cast<int64_t>(report.requests_per_second)) + " req/s");
  std::cout << "[ measured ] one host under unpaced load for " << scenario_ms << " ms: " << report.sent << " requests, "
            << report.failed() << " failed, " << steps.size() << " steps, slowest " << slowest_ms
            << " ms; heartbeats: " << beats.count(host) << " on the bus, longest gap " << bus_gap << " ms; " << logged
            << "\n";
}

TEST(SaturationTest, ASigstoppedAgentIsSuspectedReplacedAndItsReturnLeavesTheReplicasRunning) {
  Stack s;
  ASSERT_TRUE(s.wait_for_hosts()) << s.log("agent") << s.log("registry");
  ASSERT_TRUE(wait_until([&] { return !s.dev_env("PIER_BUS_SUB").empty(); }, 10s)) << s.dev_output();
  const std::string first = s.hosts()[0].value("id", "");
  SecondHost second(s, s.state_dir() + "/second");
  ASSERT_TRUE(second.start());
  ASSERT_TRUE(wait_until([&] { return host_status(s.hosts(), "second") == "up"; }, 30s)) << second.log();

  const std::size_t replicas = 3;
  const std::string app = "slow" + std::to_string(::getpid() % 100000);
  const int port = free_port();
  auto deployed = s.pier(deploy_args(app, port, replicas), kCommandKillS);
  ASSERT_EQ(deployed.exit_code, 0) << deployed.output << deployed.error << s.log("agent") << second.log();
  const auto before = running_by_host(s.ps(), app);
  const std::set<std::string> on_second = before.count("second") ? before.at("second") : std::set<std::string>{};
  ASSERT_EQ(running_count(s.ps(), app), replicas);
  ASSERT_FALSE(on_second.empty()) << "instances spread over both hosts";
  ASSERT_LT(on_second.size(), replicas);
  ASSERT_TRUE(wait_until([&] { return distinct(answers(port, "/", 9)).size() == replicas; }, 20s));

  HeartbeatWatch beats(s.bus_endpoints(), 180s);
  Sampler ps_seen([&] { return s.ps(); }, 180s);
  Sampler hosts_seen([&] { return s.hosts(); }, 180s);
  loadgen::LoadGenerator load(saturating_load(port, 170'000));
  const auto load_started = Steady::now();
  load.start();
  Sampler failures([&] { return nlohmann::json(load.failed()); }, 180s);
  // A sample under load before the stop: from here on, never fewer than `replicas` running.
  ASSERT_TRUE(wait_until([&] { return !ps_seen.since(load_started + 1s).empty(); }, 30s)) << "pier ps never answered";

  const pid_t agent = second.agent_pid();
  ASSERT_GT(agent, 0);
  const auto stopped_at = Steady::now();
  ASSERT_EQ(::kill(agent, SIGSTOP), 0);
  // While it is stopped: suspect, and replacements running on the first host while the stopped host's
  // instances are still listed.
  int64_t suspect_ms = -1, replaced_ms = -1;
  std::size_t replacements = 0;
  const auto stop_for = 10s;
  const auto remaining = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(stopped_at + stop_for - Steady::now());
  };
  wait_until(
      [&] {
        for (const auto& sample : hosts_seen.since(stopped_at))
          if (host_status(sample.json, "second") == "suspect")
            return suspect_ms = ms_between(stopped_at, sample.at), true;
        return false;
      },
      remaining());
  std::set<std::string> original;
  for (const auto& [h, ids] : before) original.insert(ids.begin(), ids.end());
  // Replacements (new ids) running on the first host. The registry retires an original in the same change
  // that sees its replacement running, so no sample need show both running: make before break is asserted
  // as "never fewer than `replicas` running" below; a sample with the replacements on their way while every
  // original is still listed (not draining) on the stopped host is recorded when one is seen.
  int64_t made_before_ms = -1;
  wait_until(
      [&] {
        for (const auto& sample : ps_seen.since(stopped_at)) {
          const auto listed = placement(sample.json, app);
          const auto kept = not_draining(sample.json, app);
          const bool originals_listed = std::all_of(on_second.begin(), on_second.end(), [&](const auto& id) {
            return listed.count(id) > 0 && listed.at(id) == "second" && kept.count(id) > 0;
          });
          std::size_t placed_fresh = 0;
          for (const auto& id : kept) placed_fresh += original.count(id) == 0;
          if (originals_listed && placed_fresh >= on_second.size() && made_before_ms < 0)
            made_before_ms = ms_between(stopped_at, sample.at);
          const auto running = running_by_host(sample.json, app);
          std::size_t fresh = 0;
          if (running.count(first))
            for (const auto& id : running.at(first)) fresh += original.count(id) == 0;
          if (fresh >= on_second.size())
            return replacements = fresh, replaced_ms = ms_between(stopped_at, sample.at), true;
        }
        return false;
      },
      remaining());
  std::this_thread::sleep_until(stopped_at + stop_for);  // the fault's length
  ASSERT_EQ(::kill(agent, SIGCONT), 0);
  const auto continued_at = Steady::now();

  // Watched for 8 s after SIGCONT: converged by 5 s, then 3 s more so that a late duplicate shows.
  const auto bound = 5s;
  std::this_thread::sleep_until(continued_at + bound + 3s);
  failures.stop();
  const auto report = load.stop();
  ps_seen.stop();
  hosts_seen.stop();
  beats.stop();

  // Converged at the first sample after SIGCONT from which every sample has exactly `replicas` running.
  const auto samples = ps_seen.since(load_started + 1s);
  std::optional<Steady::time_point> converged_at;
  for (const auto& sample : samples)
    if (sample.at > continued_at) {
      if (running_count(sample.json, app) != replicas)
        converged_at.reset();
      else if (!converged_at)
        converged_at = sample.at;
    }
  const int64_t converged_ms = converged_at ? ms_between(continued_at, *converged_at) : -1;
  std::size_t fewest = replicas, most_after = 0;
  std::string short_samples;
  for (const auto& sample : samples) {
    const std::size_t n = running_count(sample.json, app);
    if (n < replicas)
      short_samples += "  " + std::to_string(ms_between(stopped_at, sample.at)) + " ms: " + std::to_string(n) + "\n";
    fewest = std::min(fewest, n);
    if (sample.at >= continued_at + bound) most_after = std::max(most_after, n);
  }
  const auto host_samples = hosts_seen.since(load_started);
  std::set<std::string> second_statuses, first_statuses;
  for (const auto& sample : host_samples) {
    second_statuses.insert(host_status(sample.json, "second"));
    first_statuses.insert(host_status(sample.json, first));
  }
  EXPECT_EQ(report.failed(), 0) << "failed requests (diagnosis below)";
  EXPECT_GT(report.keepalive_sent, 0);
  EXPECT_GT(report.fresh_sent, 0);
  // Suspect first, never down at once: `pier hosts` may miss a short suspect phase (down follows as soon as
  // the replacements run), the registry's log does not.
  const auto lifecycle = lines_with(s.log("registry"), {"host second suspect", "host second down"});
  EXPECT_TRUE(!lifecycle.empty() && lifecycle.front().find("host second suspect") != std::string::npos)
      << "the stopped host was not suspect before anything else: " << ::testing::PrintToString(lifecycle);
  EXPECT_GE(replaced_ms, 0) << "no replacement ran on " << first << " while the second host's agent was stopped";
  EXPECT_TRUE(converged_at.has_value()) << "not back to " << replicas << " running for good";
  EXPECT_LE(converged_ms, 5000) << "converged too late";
  EXPECT_LE(most_after, replicas) << "more than " << replicas << " running 5 s after SIGCONT";
  EXPECT_EQ(host_status(host_samples.empty() ? nlohmann::json() : host_samples.back().json, "second"), "up")
      << "the host that came back is not up";
  EXPECT_GE(fewest, replicas) << "fewer than " << replicas << " running in these samples (ms since the SIGSTOP):\n"
                              << short_samples;
  EXPECT_GE(samples.size(), 20u) << "`pier ps` answered too rarely (" << ps_seen.unanswered() << " unanswered)";

  const auto first_late = lines_with(s.log("agent"), {std::string(kLate)});
  const std::string statuses = ::testing::PrintToString(second_statuses);
  RecordProperty("sent", static_cast<int>(report.sent));
  RecordProperty("failed", static_cast<int>(report.failed()));
  RecordProperty("suspect_ms", static_cast<int>(suspect_ms));
  RecordProperty("replacements_running_ms", static_cast<int>(replaced_ms));
  RecordProperty("replacements", static_cast<int>(replacements));
  RecordProperty("replacements_placed_while_originals_listed_ms", static_cast<int>(made_before_ms));
  RecordProperty("converged_after_sigcont_ms", static_cast<int>(converged_ms));
  RecordProperty("fewest_running", static_cast<int>(fewest));
  RecordProperty("most_running_from_5s_after_sigcont", static_cast<int>(most_after));
  report_fault("saturation, agent of 1 of 2 hosts SIGSTOPped 10 s (" + std::to_string(on_second.size()) + " of " +
                   std::to_string(replicas) + " instances there, unpaced 12+12)",
               report.sent, report.failed(), converged_ms,
               "converged = " + std::to_string(replicas) + " running for good after SIGCONT; suspect after " +
                   std::to_string(suspect_ms) + " ms, " + std::to_string(replacements) +
                   " replacements running after " + std::to_string(replaced_ms) + " ms (-1: never; on their way " +
                   "while the originals were listed: " + std::to_string(made_before_ms) + " ms); fewest running " +
                   std::to_string(fewest) + ", most from 5 s after SIGCONT " + std::to_string(most_after) +
                   "; stopped host's statuses " + statuses + ", first host's " +
                   ::testing::PrintToString(first_statuses) + "; first agent " + std::to_string(first_late.size()) +
                   " heartbeat-late lines, longest gap on the bus " + std::to_string(beats.longest_gap_ms(first)) +
                   " ms");
  std::cout << "[ measured ] SIGSTOP of the second host's agent for 10 s under unpaced load: suspect after "
            << suspect_ms << " ms, " << replacements << " replacements running after " << replaced_ms
            << " ms, converged " << converged_ms << " ms after SIGCONT; " << report.sent << " requests, "
            << report.failed() << " failed\n";
  if (HasFailure())
    std::cout << "[ diagnosis ] times in ms since the SIGSTOP (SIGCONT at " << ms_between(stopped_at, continued_at)
              << "); instances (id@host:state):\n"
              << ps_timeline(samples, app, stopped_at) << "hosts:\n"
              << status_timeline(host_samples, "second", stopped_at) << status_timeline(host_samples, first, stopped_at)
              << "requests failed:\n"
              << failure_spans(failures.samples(), stopped_at) << "registry:\n"
              << joined(lines_with(s.log("registry"), {"host second", "host " + first, "app " + app}))
              << "load: " << report.to_text() << "stopped host's agent, last lines:\n"
              << tail(second.log(), 20);
}

}  // namespace
}  // namespace pier::e2e
