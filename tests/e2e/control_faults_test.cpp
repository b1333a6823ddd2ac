// Faults of the control plane while the data plane carries load (tests/e2e/faults, issue 7):
// - every control process SIGKILLed in turn under a bounded load: no failed request, convergence;
// - 20 % of bus messages lost for 30 s while deploying and scaling: the same end state as without loss;
// - 1,000 SIGKILLs of the registry during a stream of commands: nothing acknowledged is lost, nothing
//   applied twice;
// - a crash-looping app ends `failed` with its reason, other apps undisturbed.
// Each prints "[ fault ] ..." lines that bench/faults/run.sh turns into the table of bench/RESULTS.md.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <zmq.hpp>

#include "bench/loadgen/loadgen.h"
#include "cli/registry_client.h"
#include "common/clock.h"
#include "common/codec.h"
#include "common/lb_summary.h"
#include "common/process.h"
#include "common/topics.h"
#include "common/version.h"
#include "tests/e2e/harness.h"

namespace pier::e2e {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

TEST(ControlFaultTest, EachControlProcessKilledUnderLoadLosesNoRequestAndConverges) {
  Stack s;
  ASSERT_TRUE(s.wait_for_hosts()) << s.log("agent") << s.log("registry");
  const std::string app = "ctl" + std::to_string(::getpid() % 100000);
  const int port = free_port();
  int replicas = 3;
  auto deployed = s.pier(deploy_args(app, port, replicas));
  ASSERT_EQ(deployed.exit_code, 0) << deployed.output << deployed.error << s.log("agent");
  // Every instance past its health checks before the load starts.
  ASSERT_TRUE(wait_until([&] { return distinct(answers(port, "/", 9)).size() == 3; }, 20s));
  const std::string metrics_url = s.dev_env("PIER_METRICS_URL");
  ASSERT_FALSE(metrics_url.empty());
  const int metrics_port = std::stoi(metrics_url.substr(metrics_url.rfind(':') + 1));

  loadgen::LoadGenerator load(steady_load(port));
  load.start();
  std::set<std::string> ids = instance_ids(s.ps(), app);
  for (const std::string name : {"bus", "registry", "scheduler", "lbgen", "metrics", "agent"}) {
    const pid_t pid = s.child_pid(name);
    ASSERT_GT(pid, 0) << name;
    const int64_t sent_before = load.sent(), failed_before = load.failed();
    const auto killed_at = Steady::now();
    ASSERT_EQ(::kill(pid, SIGKILL), 0) << name;
    // A change right after the kill, so that the restarted process has to do its part of it.
    ++replicas;
    auto scaled = s.pier({"scale", app, std::to_string(replicas), "--timeout", "30"});
    EXPECT_EQ(scaled.exit_code, 0) << name << ": " << scaled.output << scaled.error;
    std::string why;
    const bool converged = wait_until(
        [&] {
          const pid_t now = s.child_pid(name);
          if (now == pid || now <= 0 || !process::exists(now)) return why = name + " not restarted", false;
          bool running = false;
          const auto placed = placement(s.ps(), app, &running);
          std::set<std::string> now_ids;
          for (const auto& [id, host] : placed) now_ids.insert(id);
          if (!running || static_cast<int>(placed.size()) != replicas) return why = "not all running", false;
          // None lost (every earlier instance is still there), none duplicated, none orphaned.
          if (!std::includes(now_ids.begin(), now_ids.end(), ids.begin(), ids.end()))
            return why = "an instance was lost", false;
          if (processes_of_app(app) != replicas) return why = "processes != replicas", false;
          auto h = s.hosts();
          if (!h.is_array() || h.size() != 1 || h[0].value("status", "") != "up") return why = "host not up", false;
          if (name == "metrics") {
            auto text = http_get(metrics_port, "/metrics");
            if (!text || text->body.find("app=\"" + app + "\"") == std::string::npos)
              return why = "metrics without the app", false;
          }
          ids = now_ids;
          return true;
        },
        15s);
    const int64_t converged_ms = ms_since(killed_at);
    EXPECT_TRUE(converged) << name << ": " << why << "\n" << s.log(name);
    EXPECT_LE(converged_ms, 5000) << name << " converged too late";
    report_fault("SIGKILL " + name, load.sent() - sent_before, load.failed() - failed_before, converged_ms,
                 "scaled to " + std::to_string(replicas) + " right after the kill");
  }
  const auto report = load.stop();
  EXPECT_GT(report.sent, 1000);
  EXPECT_EQ(report.failed(), 0) << report.to_text();
  EXPECT_GT(report.keepalive_sent, 0);
  EXPECT_GT(report.fresh_sent, 0);
  std::cout << "[ measured ] load through all six kills: " << report.to_text();
}

TEST(InstanceFaultTest, AKilledInstanceLeavesTheLbAndIsRestartedWithoutAFailedRequest) {
  Stack s;
  ASSERT_TRUE(s.wait_for_hosts()) << s.log("agent");
  const std::string app = "inst" + std::to_string(::getpid() % 100000);
  const int port = free_port();
  ASSERT_EQ(s.pier(deploy_args(app, port, 3)).exit_code, 0) << s.log("agent");
  ASSERT_TRUE(wait_until([&] { return distinct(answers(port, "/", 9)).size() == 3; }, 20s));
  const auto pid_of = [&](const std::string& id) {
    for (const auto& i : s.ps())
      if (i.value("id", "") == id && i.value("state", "") == "running") return i.value("pid", 0);
    return 0;
  };
  loadgen::LoadGenerator load(steady_load(port));
  load.start();
  int64_t slowest_ms = 0;
  const auto ids = instance_ids(s.ps(), app);
  for (int round = 0; round < 3; ++round) {
    const std::string victim = *std::next(ids.begin(), round);
    const int pid = pid_of(victim);
    ASSERT_GT(pid, 0) << victim;
    const auto killed_at = Steady::now();
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    // Restarted by the agent (a new process, `running`), and serving through HAProxy again.
    const bool back = wait_until(
        [&] {
          const int now = pid_of(victim);
          return now > 0 && now != pid && distinct(answers(port, "/", 6)).count(victim) == 1;
        },
        15s);
    slowest_ms = std::max(slowest_ms, ms_since(killed_at));
    ASSERT_TRUE(back) << victim << " never served again\n" << s.log("agent");
    EXPECT_EQ(instance_ids(s.ps(), app), ids) << "restarted in place, not replaced";
    EXPECT_EQ(processes_of_app(app), 3);
  }
  const auto report = load.stop();
  EXPECT_EQ(report.failed(), 0) << report.to_text();
  report_fault("instance SIGKILLed (x3, one at a time)", report.sent, report.failed(), slowest_ms,
               "restarted in place by its agent and serving through HAProxy again (slowest of 3, 500 ms of it the "
               "restart backoff)");
}

// An app's end state, without what may differ between two runs (ports, addresses, which instance ids
// a scale-in chose, times).
struct AppEnd {
  int replicas = 0;
  bool all_running = false;
  int processes = 0;        // the runtime's own count
  bool lb_matches = false;  // the host's HAProxy lists exactly the app's instances
  bool operator==(const AppEnd&) const = default;
};

std::map<std::string, AppEnd> end_state(const Stack& s, const std::vector<std::string>& apps) {
  std::map<std::string, AppEnd> out;
  const auto ps = s.ps();
  const auto hosts = s.hosts();
  for (const auto& app : apps) {
    AppEnd e;
    const auto placed = placement(ps, app, &e.all_running);
    std::vector<std::string> ids;
    for (const auto& [id, host] : placed) ids.push_back(id);
    std::string listed = lb::servers_digest({});  // the app's servers in the host's HAProxy: none
    if (hosts.is_array() && hosts.size() == 1)
      for (const auto& a : hosts[0]["lb"].value("apps", nlohmann::json::array()))
        if (a.value("app", "") == app) listed = a.value("digest", "");
    e.replicas = static_cast<int>(placed.size());
    e.lb_matches = lb::servers_digest(ids) == listed;
    e.processes = processes_of_app(app);
    if (e.replicas > 0 || e.processes > 0) out[app] = e;
  }
  return out;
}

std::string describe(const std::map<std::string, AppEnd>& state) {
  std::string out;
  for (const auto& [app, e] : state)
    out += app + ": " + std::to_string(e.replicas) + (e.all_running ? " running" : " NOT all running") + ", " +
           std::to_string(e.processes) + " processes, " + (e.lb_matches ? "LB matches" : "LB differs") + "; ";
  return out;
}

// Deploys, scales and removes three apps (names prefixed with `prefix`), each command detached (it
// returns once the registry replied); returns the apps' names.
// Scaling goes on (2 <-> 5) until `busy_until`, at least 10 times, and ends at 3.
std::vector<std::string> run_script(const Stack& s, const std::string& prefix, Steady::time_point busy_until,
                                    std::string* errors, int* commands) {
  const std::string a = prefix + "a", b = prefix + "b", c = prefix + "c";
  const auto detached = [](std::vector<std::string> args) {
    args.push_back("--detach");
    return args;
  };
  std::vector<std::vector<std::string>> script = {
      detached(deploy_args(a, free_port(), 2)),         detached(deploy_args(b, free_port(), 3)),
      {"scale", a, "5", "--detach", "--timeout", "30"}, detached(deploy_args(c, free_port(), 2)),
      {"scale", b, "1", "--detach", "--timeout", "30"}, {"rm", c, "--detach", "--timeout", "30"},
  };
  const auto run = [&](const std::vector<std::string>& command) {
    auto r = s.pier(command, 45);
    ++*commands;
    if (r.exit_code != 0) *errors += ::testing::PrintToString(command) + " -> " + r.output + r.error + "\n";
  };
  for (const auto& command : script) run(command);
  for (int flip = 0; flip < 10 || Steady::now() < busy_until; ++flip)
    run({"scale", a, flip % 2 ? "5" : "2", "--detach", "--timeout", "30"});
  run({"scale", a, "3", "--detach", "--timeout", "30"});
  return {a, b, c};
}

bool settled(const std::map<std::string, AppEnd>& state) {
  if (state.size() != 2) return false;
  for (const auto& [app, e] : state)
    if (!e.all_running || e.processes != e.replicas || !e.lb_matches) return false;
  return true;
}

TEST(BusLossTest, TwentyPercentLossForThirtySecondsEndsInTheLosslessState) {
  const std::string prefix = "loss" + std::to_string(::getpid() % 10000);
  std::map<std::string, AppEnd> lossless;
  std::vector<std::string> apps;
  {
    Stack s;
    ASSERT_TRUE(s.wait_for_hosts()) << s.log("agent");
    std::string errors;
    int commands = 0;
    apps = run_script(s, prefix, Steady::now(), &errors, &commands);
    ASSERT_EQ(errors, "");
    ASSERT_TRUE(wait_until([&] { return settled(lossless = end_state(s, apps)); }, 30s)) << describe(lossless);
    ASSERT_EQ(lossless[prefix + "a"].replicas, 3);
    ASSERT_EQ(lossless[prefix + "b"].replicas, 1);
  }
  ASSERT_EQ(processes_of_app(prefix + "a"), 0) << "the first stack stopped its instances";

  // The same script with 20 % of all bus messages dropped for the bus's first 30 s.
  const int64_t loss_ms = 30'000;
  const auto started = Steady::now();  // the bus starts after this: its loss ends before started + 30 s
  Stack s({"--bus-drop-share", "0.2", "--bus-drop-seed", "42", "--bus-drop-for-ms", std::to_string(loss_ms)});
  ASSERT_TRUE(s.wait_for_hosts()) << s.log("agent");
  std::string errors;
  int commands = 0;
  run_script(s, prefix, started + std::chrono::milliseconds(loss_ms - 5000), &errors, &commands);
  const int64_t script_done_ms = ms_since(started);
  EXPECT_EQ(errors, "") << "every command got its reply in spite of the loss";
  EXPECT_LT(script_done_ms, loss_ms) << "the script ran while messages were lost";
  // Judged after the loss has stopped: equal within 5 s of it.
  const auto loss_end = started + std::chrono::milliseconds(loss_ms);
  std::this_thread::sleep_until(loss_end);
  std::map<std::string, AppEnd> lossy;
  const bool equal = wait_until([&] { return (lossy = end_state(s, apps)) == lossless; }, 5s);
  const int64_t equal_after_loss_ms = ms_since(loss_end);
  EXPECT_TRUE(equal) << "lossless: " << describe(lossless) << "\nlossy:    " << describe(lossy) << "\n" << s.log("bus");
  // And it stays equal (no late duplicate from a message that was lost and retried).
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(describe(end_state(s, apps)), describe(lossless));
  const std::string bus_log = s.log("bus");
  const auto dropped_at = bus_log.rfind("dropped");
  const std::string drops =
      dropped_at == std::string::npos ? "?" : bus_log.substr(dropped_at, bus_log.find('\n', dropped_at) - dropped_at);
  report_fault("20% bus loss for 30 s (" + std::to_string(commands) + " commands)", 0, 0, equal_after_loss_ms,
               "commands done " + std::to_string(script_done_ms) +
                   " ms after the start; state equal to the lossless run " + std::to_string(equal_after_loss_ms) +
                   " ms after the loss ended; bus " + drops);
}

// A bus and a registry only, run by the test, so that the registry can be killed a thousand times.
class RegistryOnly {
 public:
  RegistryOnly() {
    endpoints_.pub = "tcp://127.0.0.1:" + std::to_string(free_port());
    endpoints_.sub = "tcp://127.0.0.1:" + std::to_string(free_port());
    bus_ = spawn(
        {std::string(PIER_BIN_DIR) + "/pier-bus", "--publishers", endpoints_.pub, "--subscribers", endpoints_.sub},
        "bus");
  }
  ~RegistryOnly() {
    kill_registry(SIGTERM);
    if (bus_ > 0) {
      ::kill(bus_, SIGTERM);
      process::stop(bus_, 5000);
    }
    if (::getenv("PIER_E2E_KEEP") != nullptr) dir_.keep();
  }
  void start_registry() {
    registry_ = spawn({std::string(PIER_BIN_DIR) + "/pier-registry", "--db", dir_.path() + "/registry.db", "--bus-pub",
                       endpoints_.pub, "--bus-sub", endpoints_.sub, "--log-level", "warn"},
                      "registry");
  }
  void kill_registry(int signal = SIGKILL) {
    if (registry_ <= 0) return;
    ::kill(registry_, signal);
    if (signal == SIGKILL)
      process::wait(registry_);
    else
      process::stop(registry_, 5000);
    registry_ = 0;
  }
  const bus::Endpoints& endpoints() const { return endpoints_; }
  std::string log() const { return read_file(dir_.path() + "/registry.log"); }

 private:
  pid_t spawn(std::vector<std::string> argv, const std::string& name) {
    process::SpawnOptions options;
    options.argv = std::move(argv);
    options.output_path = dir_.path() + "/" + name + ".log";
    auto pid = process::spawn(options);
    if (!pid.ok()) throw std::runtime_error(pid.status().message());
    return *pid;
  }
  testing::TempDir dir_{"pier-e2e-kills-"};
  bus::Endpoints endpoints_;
  pid_t bus_ = 0;
  pid_t registry_ = 0;
};

msg::AppSpec stream_app(int index, int seq) {
  msg::AppSpec spec;
  spec.name = "stream-" + std::to_string(index);
  spec.image = "pier/demo-app";
  spec.tag = kVersion;
  spec.command = {"pier-demo-app"};
  spec.ports = {msg::PortMapping{20000 + index, 8000}};
  spec.env = {{"SEQ", std::to_string(seq)}};  // a new value each time: every deploy changes the app
  return spec;
}

TEST(RegistryKillTest, AThousandKillsDuringACommandStreamLoseNothingAcknowledgedAndApplyNothingTwice) {
  const int kills = std::getenv("PIER_REGISTRY_KILLS") ? std::atoi(std::getenv("PIER_REGISTRY_KILLS")) : 1000;
  RegistryOnly stack;
  stack.start_registry();
  zmq::context_t context;
  SystemClock clock;
  std::atomic<bool> killing_done{false};

  // The command stream: deploys (each with a new env value) and scales over 8 apps, each command
  // re-sent under its request id until the registry's reply.
  struct Acked {
    std::string app;
    int replicas = 0;
    int seq = -1;
    int64_t revision = 0;
  };
  std::vector<Acked> acked;
  std::string stream_error;
  std::thread stream([&] {
    cli::RegistryClient client(context, stack.endpoints(), clock, [] { return false; });
    std::map<std::string, msg::AppSpec> specs;
    for (int i = 0; !killing_done || i < 8; ++i) {
      const std::string app = "stream-" + std::to_string(i % 8);
      Acked want{app};
      std::optional<msg::Reply> reply;
      if (!specs.count(app) || i % 3 == 0) {
        msg::AppSpec spec = specs.count(app) ? specs[app] : stream_app(i % 8, i);
        spec.env = {{"SEQ", std::to_string(i)}};
        want.seq = i;
        want.replicas = spec.replicas;
        reply = client.request(topic::kDeploy, codec::encode(msg::DeployCommand{spec}), 120'000);
        if (reply && reply->ok) specs[app] = spec;
      } else {
        want.replicas = 1 + i % 4;
        reply = client.request(topic::kScale, codec::encode(msg::ScaleCommand{app, want.replicas}), 120'000);
        if (reply && reply->ok) specs[app].replicas = want.replicas;
      }
      if (!reply) return void(stream_error = "no reply in 120 s to command " + std::to_string(i));
      if (!reply->ok) return void(stream_error = "command " + std::to_string(i) + " refused: " + reply->message);
      want.revision = reply->revision;
      acked.push_back(want);
    }
  });

  std::mt19937 random(20261125);
  std::uniform_int_distribution<int> lifetime_ms(2, 60);
  const auto began = Steady::now();
  for (int k = 0; k < kills && stream_error.empty(); ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(lifetime_ms(random)));  // the fault's timing
    stack.kill_registry();
    stack.start_registry();
  }
  const int64_t killing_ms = ms_since(began);
  killing_done = true;
  stream.join();
  ASSERT_EQ(stream_error, "") << stack.log();

  cli::RegistryClient client(context, stack.endpoints(), clock, [] { return false; });
  auto state = client.snapshot(30'000);
  ASSERT_TRUE(state.has_value()) << stack.log();

  // Nothing acknowledged is lost: each app is as its last acknowledged command left it.
  std::map<std::string, Acked> last;
  std::map<std::string, int> last_seq;
  for (const auto& a : acked) {
    if (a.seq >= 0) last_seq[a.app] = a.seq;
    last[a.app] = a;
  }
  for (const auto& [app, a] : last) {
    const msg::AppRecord* record = nullptr;
    for (const auto& r : state->apps)
      if (r.spec.name == app) record = &r;
    ASSERT_NE(record, nullptr) << app << " was acknowledged but is missing";
    EXPECT_EQ(record->spec.replicas, a.replicas) << app;
    EXPECT_EQ(record->spec.env.at("SEQ"), std::to_string(last_seq[app])) << app;
    const auto n =
        std::count_if(state->instances.begin(), state->instances.end(), [&](const auto& i) { return i.app == app; });
    EXPECT_EQ(n, a.replicas) << app << ": instances";
  }
  // Nothing applied twice: every applied command bumps the state's revision once, and nothing else
  // does here (no agent, no scheduler), so the acknowledged revisions are exactly 1..N.
  std::set<int64_t> revisions;
  for (const auto& a : acked) revisions.insert(a.revision);
  EXPECT_EQ(revisions.size(), acked.size()) << "two commands acknowledged with the same revision";
  EXPECT_EQ(state->revision, static_cast<int64_t>(acked.size())) << "revisions beyond the commands: one applied twice";
  EXPECT_EQ(*revisions.begin(), 1);
  EXPECT_EQ(*revisions.rbegin(), static_cast<int64_t>(acked.size()));
  report_fault("SIGKILL registry x" + std::to_string(kills) + " during a command stream", 0, 0, 0,
               std::to_string(acked.size()) + " commands acknowledged in " + std::to_string(killing_ms) +
                   " ms, all present, none applied twice (revision " + std::to_string(state->revision) + ")");
}

TEST(CrashLoopTest, ACrashLoopingAppEndsFailedWithItsReasonAndOthersAreUndisturbed) {
  Stack s;
  ASSERT_TRUE(s.wait_for_hosts()) << s.log("agent");
  const std::string good = "steady" + std::to_string(::getpid() % 10000);
  const int port = free_port();
  ASSERT_EQ(s.pier(deploy_args(good, port, 2)).exit_code, 0) << s.log("agent");
  ASSERT_TRUE(wait_until([&] { return distinct(answers(port, "/", 6)).size() == 2; }, 20s));
  const auto good_ids = instance_ids(s.ps(), good);
  const int good_processes = processes_of_app(good);

  loadgen::LoadGenerator load(steady_load(port));
  load.start();
  const std::string bad = "crashy" + std::to_string(::getpid() % 10000);
  const std::string yaml = s.state_dir() + "/crashy.yaml";
  {
    std::ofstream out(yaml);
    out << "name: " << bad << "\nimage: pier/demo-app\ntag: \"" << kVersion
        << "\"\ncommand: [\"sh\", \"-c\", \"echo cannot read /etc/crashy.conf >&2; exit 3\"]\n"
        << "ports: [\"" << free_port() << ":8000\"]\nreplicas: 1\n";
  }
  const auto deployed_at = Steady::now();
  auto deployed = s.pier({"deploy", "-f", yaml, "--timeout", "60"});
  EXPECT_NE(deployed.exit_code, 0) << "a deploy that never becomes live fails: " << deployed.output;
  std::string reason;
  const bool failed = wait_until(
      [&] {
        auto ps = s.ps();
        if (!ps.is_array()) return false;
        for (const auto& i : ps)
          if (i.value("app", "") == bad && i.value("state", "") == "failed") {
            reason = i.value("reason", "");
            return true;
          }
        return false;
      },
      60s);
  const int64_t failed_ms = ms_since(deployed_at);
  ASSERT_TRUE(failed) << s.log("agent");
  EXPECT_NE(reason.find("3"), std::string::npos) << "the exit code: " << reason;
  EXPECT_NE(reason.find("cannot read /etc/crashy.conf"), std::string::npos) << "the last output: " << reason;
  // It stays down: no process left.
  EXPECT_TRUE(wait_until([&] { return processes_of_app(bad) == 0; }, 5s));

  const auto report = load.stop();
  EXPECT_EQ(report.failed(), 0) << report.to_text();
  EXPECT_EQ(instance_ids(s.ps(), good), good_ids) << "the other app's instances were not replaced";
  EXPECT_EQ(processes_of_app(good), good_processes);
  EXPECT_EQ(distinct(answers(port, "/", 6)).size(), 2u);
  report_fault("crash-looping app", report.sent, report.failed(), failed_ms,
               "`failed` after " + std::to_string(failed_ms) + " ms with reason: " + reason);
}

}  // namespace
}  // namespace pier::e2e
