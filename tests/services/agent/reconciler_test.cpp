#include "services/agent/reconciler.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <set>
#include <thread>

#include "tests/support/free_port.h"

namespace pier::agent {
namespace {

// What a runtime reports of an instance it adopted: no command or env, only what it could read back.
InstanceSpec adopted_spec(const std::string& id, const std::string& ip) {
  InstanceSpec spec;
  spec.id = id;
  spec.app = "web";
  spec.ip = ip;
  spec.port = 8000;
  spec.revision = 1;
  return spec;
}

// Runs nothing: records what the reconciler asks for, and lets the test make instances exit.
class FakeRuntime final : public Runtime {
 public:
  std::string kind() const override { return "fake"; }
  Result<pid_t> start(const InstanceSpec& spec) override {
    if (fail_starts) return Status::Error("no such program");
    started.push_back(spec);
    running[spec.id] = RunningInstance{spec, next_pid, false};
    return next_pid++;
  }
  void stop(const std::string& id, int grace_ms) override {
    stops.push_back(id);
    last_grace_ms = grace_ms;
    if (running.count(id)) pending.push_back(InstanceExit{id, 143, "", true, ""});
  }
  std::vector<InstanceExit> poll() override {
    std::vector<InstanceExit> out;
    out.swap(pending);
    for (const auto& e : out) running.erase(e.id);
    return out;
  }
  std::vector<RunningInstance> list() const override {
    std::vector<RunningInstance> out;
    for (const auto& [id, r] : running) out.push_back(r);
    return out;
  }
  // The instance dies on its own.
  void crash(const std::string& id, int code, const std::string& line) {
    pending.push_back({id, code, line, false, ""});
  }

  std::map<std::string, RunningInstance> running;
  std::vector<InstanceSpec> started;
  std::vector<std::string> stops;
  std::vector<InstanceExit> pending;
  pid_t next_pid = 1000;
  int last_grace_ms = 0;
  bool fail_starts = false;
};

class FakeProber final : public Prober {
 public:
  bool accepts(const std::string& ip, int port) override { return open.count(ip + ":" + std::to_string(port)) != 0; }
  int connections_to(const std::string& ip, int port) override {
    auto it = connections.find(ip + ":" + std::to_string(port));
    return it == connections.end() ? 0 : it->second;
  }
  std::set<std::string> open;
  std::map<std::string, int> connections;
};

msg::AppRecord app(const std::string& name, int64_t revision, int port = 8000) {
  msg::AppRecord record;
  record.spec.name = name;
  record.spec.command = {"serve", name};
  record.spec.env = {{"GREETING", "hi"}};
  record.spec.ports = {{80, port}};
  record.revision = revision;
  return record;
}

msg::InstanceRecord instance(const std::string& id, const std::string& app, const std::string& host,
                             const std::string& ip, const std::string& state = "placed") {
  msg::InstanceRecord record;
  record.id = id;
  record.app = app;
  record.host = host;
  record.ip = ip;
  record.state = state;
  return record;
}

class ReconcilerTest : public ::testing::Test {
 protected:
  msg::State state_with(std::vector<msg::InstanceRecord> instances, int64_t revision = 1) {
    msg::State state;
    state.revision = revision;
    state.apps = {app("web", revision)};
    state.instances = std::move(instances);
    return state;
  }
  const msg::InstanceStatus* status_of(const Reconciler& r, const std::string& id) {
    statuses_ = r.statuses();
    for (const auto& s : statuses_)
      if (s.id == id) return &s;
    return nullptr;
  }

  ManualClock clock_;
  FakeRuntime runtime_;
  FakeProber prober_;
  std::vector<msg::InstanceStatus> statuses_;
};

TEST_F(ReconcilerTest, DesiredAreThisHostsPlacedInstancesOfExistingApps) {
  msg::State state =
      state_with({instance("web-1", "web", "h1", "127.100.0.2"), instance("web-2", "web", "h2", "127.100.1.2"),
                  instance("web-3", "web", "h1", ""), instance("gone-4", "gone", "h1", "127.100.0.4"),
                  instance("web-5", "web", "h1", "127.100.0.5", "stopped")});
  auto desired = desired_instances(state, "h1");
  ASSERT_EQ(desired.size(), 1u);
  EXPECT_EQ(desired[0].id, "web-1");
  EXPECT_EQ(desired[0].port, 8000);
  EXPECT_EQ(desired[0].command, (std::vector<std::string>{"serve", "web"}));
  EXPECT_EQ(desired[0].env.at("GREETING"), "hi");
  EXPECT_EQ(desired[0].revision, 1);
}

TEST_F(ReconcilerTest, EachInstanceRunsTheSpecOfItsOwnRevision) {
  msg::State state =
      state_with({instance("web-1", "web", "h1", "127.100.0.2"), instance("web-2", "web", "h1", "127.100.0.3"),
                  instance("web-3", "web", "h1", "127.100.0.4")},
                 5);
  msg::AppRevision earlier{3, state.apps[0].spec};
  earlier.spec.env = {{"GREETING", "hello"}};
  earlier.spec.health_path = "/old-health";
  state.apps[0].revisions = {earlier};
  state.apps[0].spec.health_path = "/healthz";
  state.instances[0].revision = 3;  // an old one, mid-rollout
  state.instances[1].revision = 5;
  state.instances[2].revision = 0;  // from a registry older than rollouts: the app's revision
  auto desired = desired_instances(state, "h1");
  ASSERT_EQ(desired.size(), 3u);
  EXPECT_EQ(desired[0].revision, 3);
  EXPECT_EQ(desired[0].env.at("GREETING"), "hello");
  EXPECT_EQ(desired[0].health_path, "/old-health");
  EXPECT_EQ(desired[1].revision, 5);
  EXPECT_EQ(desired[1].env.at("GREETING"), "hi");
  EXPECT_EQ(desired[1].health_path, "/healthz");
  EXPECT_EQ(desired[2].revision, 5);
  state.apps[0].spec.protocol = "tcp";
  EXPECT_EQ(desired_instances(state, "h1")[1].health_path, "") << "a tcp app is checked by a connect only";
}

TEST_F(ReconcilerTest, StartsMissingInstancesAndReportsRunningOnceTheyAccept) {
  Reconciler r("h1", runtime_, prober_, clock_);
  r.on_state(state_with({instance("web-1", "web", "h1", "127.100.0.2")}));
  EXPECT_TRUE(r.tick());
  ASSERT_EQ(runtime_.started.size(), 1u);
  EXPECT_EQ(runtime_.started[0].ip, "127.100.0.2");
  ASSERT_NE(status_of(r, "web-1"), nullptr);
  EXPECT_EQ(status_of(r, "web-1")->state, "starting");
  EXPECT_EQ(status_of(r, "web-1")->pid, 1000);
  EXPECT_FALSE(r.tick()) << "nothing changed";
  prober_.open.insert("127.100.0.2:8000");
  EXPECT_TRUE(r.tick());
  EXPECT_EQ(status_of(r, "web-1")->state, "running");
  EXPECT_EQ(runtime_.started.size(), 1u) << "started once";
}

TEST_F(ReconcilerTest, StopsNothingBeforeTheFirstStateThenStopsWhatIsNotDesired) {
  const InstanceSpec adopted = adopted_spec("web-9", "127.100.0.9");
  runtime_.running["web-9"] = RunningInstance{adopted, 555, true};
  Reconciler r("h1", runtime_, prober_, clock_, ReconcilerOptions{.stop_grace_ms = 1234});
  prober_.open.insert("127.100.0.9:8000");
  for (int i = 0; i < 10; ++i) {
    r.tick();
    clock_.advance(1000);
  }
  EXPECT_TRUE(runtime_.stops.empty());
  EXPECT_TRUE(runtime_.started.empty());
  ASSERT_NE(status_of(r, "web-9"), nullptr) << "adopted instances are reported";
  EXPECT_EQ(status_of(r, "web-9")->state, "running");
  EXPECT_EQ(status_of(r, "web-9")->pid, 555);

  r.on_state(state_with({instance("web-1", "web", "h1", "127.100.0.2")}));
  r.tick();
  EXPECT_EQ(runtime_.stops, std::vector<std::string>{"web-9"});
  EXPECT_EQ(runtime_.last_grace_ms, 1234);
  r.tick();
  EXPECT_EQ(status_of(r, "web-9"), nullptr);
  EXPECT_EQ(runtime_.running.count("web-9"), 0u);
  EXPECT_EQ(runtime_.running.count("web-1"), 1u);
  EXPECT_EQ(runtime_.stops.size(), 1u) << "stopped once";
}

TEST_F(ReconcilerTest, AdoptedInstanceStillDesiredIsKept) {
  const InstanceSpec adopted = adopted_spec("web-1", "127.100.0.2");
  runtime_.running["web-1"] = RunningInstance{adopted, 555, true};
  Reconciler r("h1", runtime_, prober_, clock_);
  r.on_state(state_with({instance("web-1", "web", "h1", "127.100.0.2", "running")}));
  r.tick();
  EXPECT_TRUE(runtime_.stops.empty());
  EXPECT_TRUE(runtime_.started.empty());
}

TEST_F(ReconcilerTest, ExitedInstanceIsRestartedWithDoublingBackoff) {
  Reconciler r("h1", runtime_, prober_, clock_,
               ReconcilerOptions{.backoff_initial_ms = 500, .backoff_max_ms = 1500, .max_exits = 100});
  r.on_state(state_with({instance("web-1", "web", "h1", "127.100.0.2")}));
  r.tick();
  ASSERT_EQ(runtime_.started.size(), 1u);
  const std::vector<int64_t> waits = {500, 1000, 1500, 1500};
  for (std::size_t i = 0; i < waits.size(); ++i) {
    runtime_.crash("web-1", 3, "boom");
    r.tick();
    EXPECT_EQ(status_of(r, "web-1")->state, "starting");
    EXPECT_EQ(status_of(r, "web-1")->exit_code, 3);
    EXPECT_EQ(status_of(r, "web-1")->restarts, static_cast<int>(i + 1));
    EXPECT_NE(status_of(r, "web-1")->reason.find("exited with code 3: boom"), std::string::npos);
    clock_.advance(waits[i] - 1);
    r.tick();
    EXPECT_EQ(runtime_.started.size(), i + 1) << "not before the backoff, round " << i;
    clock_.advance(1);
    r.tick();
    EXPECT_EQ(runtime_.started.size(), i + 2) << "after the backoff, round " << i;
  }
}

TEST_F(ReconcilerTest, FiveExitsWithinAMinuteFailTheInstanceUntilItsSpecChanges) {
  Reconciler r("h1", runtime_, prober_, clock_);
  r.on_state(state_with({instance("web-1", "web", "h1", "127.100.0.2")}));
  r.tick();
  for (int i = 0; i < 5; ++i) {
    runtime_.crash("web-1", 1, "listen: address in use");
    r.tick();
    clock_.advance(10'000);
    r.tick();
  }
  EXPECT_EQ(runtime_.started.size(), 5u);
  ASSERT_NE(status_of(r, "web-1"), nullptr);
  EXPECT_EQ(status_of(r, "web-1")->state, "failed");
  EXPECT_EQ(status_of(r, "web-1")->reason, "exited with code 1: listen: address in use");
  clock_.advance(120'000);
  r.tick();
  r.on_state(state_with({instance("web-1", "web", "h1", "127.100.0.2", "failed")}));
  r.tick();
  EXPECT_EQ(runtime_.started.size(), 5u) << "failed stays down while its spec is the same";

  r.on_state(state_with({instance("web-1", "web", "h1", "127.100.0.2", "failed")}, 2));
  r.tick();
  EXPECT_EQ(runtime_.started.size(), 6u) << "a new revision starts it again";
  EXPECT_EQ(status_of(r, "web-1")->state, "starting");
  EXPECT_EQ(runtime_.started.back().revision, 2);
}

TEST_F(ReconcilerTest, ExitsSpreadOverMoreThanAMinuteDoNotFail) {
  Reconciler r("h1", runtime_, prober_, clock_);
  r.on_state(state_with({instance("web-1", "web", "h1", "127.100.0.2")}));
  r.tick();
  for (int i = 0; i < 8; ++i) {
    runtime_.crash("web-1", 1, "");
    r.tick();
    clock_.advance(20'000);
    r.tick();
  }
  EXPECT_EQ(status_of(r, "web-1")->state, "starting");
  EXPECT_EQ(runtime_.started.size(), 9u);
}

TEST_F(ReconcilerTest, ProgramThatCannotStartCountsAsAnExit) {
  runtime_.fail_starts = true;
  Reconciler r("h1", runtime_, prober_, clock_);
  r.on_state(state_with({instance("web-1", "web", "h1", "127.100.0.2")}));
  for (int i = 0; i < 10; ++i) {
    r.tick();
    clock_.advance(11'000);
  }
  EXPECT_EQ(status_of(r, "web-1")->state, "failed");
  EXPECT_NE(status_of(r, "web-1")->reason.find("cannot start: no such program"), std::string::npos);
}

TEST_F(ReconcilerTest, ChangedRevisionReplacesTheInstance) {
  Reconciler r("h1", runtime_, prober_, clock_);
  prober_.open.insert("127.100.0.2:8000");
  r.on_state(state_with({instance("web-1", "web", "h1", "127.100.0.2")}, 1));
  r.tick();
  r.tick();
  EXPECT_EQ(status_of(r, "web-1")->state, "running");
  r.on_state(state_with({instance("web-1", "web", "h1", "127.100.0.2", "running")}, 7));
  r.tick();
  EXPECT_EQ(runtime_.stops, std::vector<std::string>{"web-1"});
  r.tick();
  ASSERT_EQ(runtime_.started.size(), 2u);
  EXPECT_EQ(runtime_.started[1].revision, 7);
  r.tick();
  EXPECT_EQ(status_of(r, "web-1")->state, "running");
  EXPECT_EQ(status_of(r, "web-1")->restarts, 0) << "a replacement is not a crash";
  r.tick();
  EXPECT_EQ(runtime_.started.size(), 2u);
}

TEST_F(ReconcilerTest, StopAllStopsEverything) {
  Reconciler r("h1", runtime_, prober_, clock_);
  r.on_state(
      state_with({instance("web-1", "web", "h1", "127.100.0.2"), instance("web-2", "web", "h1", "127.100.0.3")}));
  r.tick();
  EXPECT_FALSE(r.idle());
  r.stop_all();
  r.tick();
  r.tick();
  EXPECT_TRUE(r.idle());
  EXPECT_EQ(runtime_.stops.size(), 2u);
  EXPECT_TRUE(r.statuses().empty());
}

TEST_F(ReconcilerTest, BackgroundStartFailureIsReportedWithItsReason) {
  Reconciler r("h1", runtime_, prober_, clock_);
  r.on_state(state_with({instance("web-1", "web", "h1", "127.100.0.2")}));
  r.tick();
  ASSERT_EQ(runtime_.started.size(), 1u);
  runtime_.running.erase("web-1");
  runtime_.pending.push_back({"web-1", -1, "", false, "pull pier/x:1: repository does not exist"});
  r.tick();
  const auto* status = status_of(r, "web-1");
  ASSERT_NE(status, nullptr);
  EXPECT_NE(status->reason.find("cannot start: pull pier/x:1: repository does not exist"), std::string::npos)
      << status->reason;
}

}  // namespace
}  // namespace pier::agent

namespace pier::agent {
namespace {

class DrainTest : public ReconcilerTest {
 protected:
  // web-1 running on h1, then a state without it (scale-in, rm) or with it `draining`.
  void start_then_unwant(Reconciler& r, const std::string& draining_state) {
    r.on_state(state_with({instance("web-1", "web", "h1", "127.100.0.2")}));
    prober_.open.insert("127.100.0.2:8000");
    r.tick();
    ASSERT_EQ(status_of(r, "web-1")->state, "running");
    if (draining_state.empty())
      r.on_state(state_with({}));
    else
      r.on_state(state_with({instance("web-1", "web", "h1", "127.100.0.2", draining_state)}));
  }
};

TEST_F(DrainTest, AnInstanceNoLongerWantedStopsOnlyOnceOutOfHaproxyAndWithoutConnections) {
  Reconciler r("h1", runtime_, prober_, clock_);
  r.set_lb_servers({"web-1"});
  start_then_unwant(r, "draining");
  EXPECT_TRUE(desired_instances(state_with({instance("web-1", "web", "h1", "127.100.0.2", "draining")}), "h1").empty());
  r.tick();
  EXPECT_TRUE(runtime_.stops.empty()) << "HAProxy still sends it requests";
  ASSERT_NE(status_of(r, "web-1"), nullptr);
  EXPECT_EQ(status_of(r, "web-1")->state, "draining");

  r.set_lb_servers({});
  prober_.connections["127.100.0.2:8000"] = 2;
  clock_.advance(1000);
  r.tick();
  EXPECT_TRUE(runtime_.stops.empty()) << "two requests are still being answered";
  EXPECT_EQ(status_of(r, "web-1")->state, "draining");

  prober_.connections["127.100.0.2:8000"] = 0;
  r.tick();
  EXPECT_EQ(runtime_.stops, std::vector<std::string>{"web-1"});
  r.tick();  // the exit comes in
  EXPECT_EQ(status_of(r, "web-1"), nullptr) << "gone from the heartbeat: the registry deletes its row";
}

TEST_F(DrainTest, TheDrainTimeoutStopsItAnyway) {
  Reconciler r("h1", runtime_, prober_, clock_);
  msg::State first = state_with({instance("web-1", "web", "h1", "127.100.0.2")});
  first.apps[0].spec.drain_timeout_ms = 5000;
  r.on_state(first);
  prober_.open.insert("127.100.0.2:8000");
  r.tick();
  r.set_lb_servers({"web-1"});
  prober_.connections["127.100.0.2:8000"] = 1;
  r.on_state(state_with({}));
  r.tick();
  clock_.advance(4999);
  r.tick();
  EXPECT_TRUE(runtime_.stops.empty());
  clock_.advance(1);
  r.tick();
  EXPECT_EQ(runtime_.stops, std::vector<std::string>{"web-1"});
}

TEST_F(DrainTest, WantedAgainBeforeItStoppedItServesOn) {
  Reconciler r("h1", runtime_, prober_, clock_);
  r.set_lb_servers({"web-1"});
  start_then_unwant(r, "");
  r.tick();
  EXPECT_EQ(status_of(r, "web-1")->state, "draining");
  r.on_state(state_with({instance("web-1", "web", "h1", "127.100.0.2")}));
  r.tick();
  EXPECT_TRUE(runtime_.stops.empty());
  EXPECT_EQ(status_of(r, "web-1")->state, "running");
  EXPECT_EQ(runtime_.started.size(), 1u);
}

TEST(ConnectionCount, CountsOpenAndOpeningConnectionsToTheAddressFromProcNetTcp) {
  // 127.100.0.2:8000 is 0200647F:1F40; state 01 ESTABLISHED, 02 SYN_SENT, 06 TIME_WAIT, 0A LISTEN.
  const std::string text =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
      "   0: 0200647F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n"
      "   1: 0100007F:A1B2 0200647F:1F40 01 00000000:00000000 00:00000000 00000000     0        0 2 1\n"
      "   2: 0100007F:A1B3 0200647F:1F40 02 00000000:00000000 00:00000000 00000000     0        0 3 1\n"
      "   3: 0100007F:A1B4 0200647F:1F40 06 00000000:00000000 00:00000000 00000000     0        0 4 1\n"
      "   4: 0200647F:1F40 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000     0        0 5 1\n"
      "   5: 0100007F:A1B5 0300647F:1F40 01 00000000:00000000 00:00000000 00000000     0        0 6 1\n";
  EXPECT_EQ(count_connections_to(text, "127.100.0.2", 8000), 2);
  EXPECT_EQ(count_connections_to(text, "127.100.0.3", 8000), 1);
  EXPECT_EQ(count_connections_to(text, "127.100.0.4", 8000), 0);
  EXPECT_EQ(count_connections_to(text, "not-an-ip", 8000), -1);
}

// A real HTTP server on loopback: the check passes on 2xx/3xx only, and needs the connection first.
TEST(HealthCheck, PassesOnTwoAndThreeHundredsOnly) {
  httplib::Server server;
  server.Get("/ok", [](const httplib::Request&, httplib::Response& res) { res.status = 200; });
  server.Get("/moved", [](const httplib::Request&, httplib::Response& res) { res.status = 302; });
  server.Get("/broken", [](const httplib::Request&, httplib::Response& res) { res.status = 503; });
  const int port = server.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread thread([&] { server.listen_after_bind(); });
  const int closed = test_support::free_port();  // nothing listens there
  const std::vector<Prober::Target> targets = {{"127.0.0.1", port, "/ok"},     {"127.0.0.1", port, "/moved"},
                                               {"127.0.0.1", port, "/broken"}, {"127.0.0.1", port, "/missing"},
                                               {"127.0.0.1", port, ""},        {"127.0.0.1", closed, "/ok"}};
  TcpProber prober(500, 2000);
  EXPECT_EQ(prober.accepting(targets), (std::set<std::size_t>{0, 1, 4}));
  server.stop();
  thread.join();
}

TEST(ConnectionCount, SeesARealConnection) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  socklen_t len = sizeof addr;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  EXPECT_EQ(TcpProber{}.connections_to("127.0.0.1", port), 0);  // a new prober: a fresh read
  const int client = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  TcpProber prober;
  EXPECT_EQ(prober.connections_to("127.0.0.1", port), 1);
  ::close(client);
  ::close(listener);
}

}  // namespace
}  // namespace pier::agent
