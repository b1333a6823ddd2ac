// LbApplier's Runtime API path against the real HAProxy, with configs rendered by lbgen's built-in
// template and real HTTP backends (cpp-httplib) on their own 127.0.0.0/8 addresses.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "common/files.h"
#include "common/process.h"
#include "services/agent/haproxy_runtime.h"
#include "services/agent/lb_applier.h"
#include "services/agent/lb_update.h"
#include "services/agent/proc_stats.h"
#include "services/lbgen/config_hash.h"
#include "services/lbgen/lb_spec.h"
#include "services/lbgen/render.h"
#include "tests/services/agent/lb_steps.h"
#include "tests/support/eventually.h"
#include "tests/support/free_port.h"
#include "tests/support/raw_http.h"
#include "tests/support/temp_dir.h"

namespace pier::agent {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

using test_support::eventually;

// "<status> <body>" of GET / on 127.0.0.1:port (HTTP/1.0, a new connection), or "" when nothing answers.
std::string get(int port) {
  const std::string response = test_support::raw_get(port);
  const auto body = response.find("\r\n\r\n");
  if (response.size() < 12 || body == std::string::npos) return {};
  return response.substr(9, 3) + " " + response.substr(body + 4);
}

// The set of answers of `n` requests.
std::set<std::string> answers(int port, int n) {
  std::set<std::string> out;
  for (int i = 0; i < n; ++i) out.insert(get(port));
  return out;
}

// An HTTP instance on its own address: GET / answers its name, GET /health answers `health` (200 or 500).
class Backend {
 public:
  Backend(std::string name, std::string ip, int port, int health = 200) : name_(std::move(name)), ip_(std::move(ip)) {
    server_.Get("/", [this](const httplib::Request&, httplib::Response& res) { res.set_content(name_, "text/plain"); });
    server_.Get("/health", [health](const httplib::Request&, httplib::Response& res) {
      res.status = health;
      res.set_content("health", "text/plain");
    });
    bound_ = server_.bind_to_port(ip_, port);
    if (bound_) thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~Backend() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  bool bound() const { return bound_; }

 private:
  std::string name_, ip_;
  httplib::Server server_;
  std::thread thread_;
  bool bound_ = false;
};

class LbApplierRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = test_support::free_port();
    backend_port_ = test_support::free_port();
    // Addresses of this test only: 127.<60-249>.<pid>.x.
    prefix_ = "127." + std::to_string(60 + ::getpid() % 190) + "." + std::to_string((::getpid() / 190) % 250) + ".";
    state_.hosts.resize(1);
    msg::HostRecord& host = state_.hosts[0];
    host.id = "h1";
    host.address = "127.0.0.1";
    host.haproxy_socket = dir_ + "/haproxy/haproxy.sock";
    host.status = "up";
    msg::AppRecord web;
    web.spec.name = "web";
    web.spec.image = "pier/demo-app";
    web.spec.ports = {{port_, backend_port_}};
    web.spec.health_path = "/health";
    web.spec.check_inter_ms = 100;
    web.spec.check_rise = 2;
    web.spec.check_fall = 2;
    state_.apps = {web};
  }
  void TearDown() override {
    kill_masters(masters_);
    backends_.clear();
  }
  LbApplierOptions options() {
    LbApplierOptions o;
    o.dir = dir_ + "/haproxy";
    o.haproxy = "/usr/sbin/haproxy";
    o.stop_grace_ms = 2000;
    return o;
  }
  std::string ip(int n) const { return prefix_ + std::to_string(n); }
  // Starts instance web-<n> on ip(n) (once) and makes it one of the app's running instances.
  void run(std::vector<int> ns, int health = 200) {
    state_.instances.clear();
    for (int n : ns) {
      const std::string id = "web-" + std::to_string(n);
      if (!backends_.count(id)) {
        backends_[id] = std::make_unique<Backend>(id, ip(n), backend_port_, health);
        ASSERT_TRUE(backends_[id]->bound()) << ip(n);
      }
      msg::InstanceRecord i;
      i.id = id;
      i.app = "web";
      i.host = "h1";
      i.ip = ip(n);
      i.state = "running";
      state_.instances.push_back(i);
    }
  }
  msg::LbConfig config() {
    msg::LbConfig c;
    c.host_id = "h1";
    c.state_revision = ++state_.revision;
    c.spec = lbgen::build_spec(state_, state_.hosts[0]);
    auto text = lbgen::render(c.spec, lbgen::default_template());
    EXPECT_TRUE(text.ok());
    c.haproxy_cfg = *text;
    c.hash = lbgen::config_hash(c.haproxy_cfg);
    return c;
  }
  std::set<std::string> served(std::vector<int> ns) const {
    std::set<std::string> out;
    for (int n : ns) out.insert("200 web-" + std::to_string(n));
    return out;
  }
  // The server names HAProxy runs in `backend`, from `show servers state`.
  std::set<std::string> haproxy_servers(const std::string& backend) const {
    auto text = HaproxyRuntimeApi(dir_ + "/haproxy/haproxy.sock").send("show servers state " + backend);
    std::set<std::string> names;
    if (!text.ok()) return names;
    std::istringstream lines(*text);
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream words(line);
      std::string id, be, srv_id, name;
      if (words >> id >> be >> srv_id >> name && be == backend) names.insert(name);
    }
    return names;
  }
  // What `show servers state` says of server `name` of the app's backend (op state -1: not there).
  ServerState server_state(const std::string& name) const {
    const std::string backend = "app_web_" + std::to_string(backend_port_);
    auto text = HaproxyRuntimeApi(dir_ + "/haproxy/haproxy.sock").send("show servers state " + backend);
    for (const auto& state : parse_server_states(text.ok() ? *text : ""))
      if (state.name == name) return state;
    return {};
  }
  void track(const LbApplier& lb) {
    if (lb.master_pid() > 0) masters_.push_back(lb.master_pid());
  }

  pier::testing::TempDir temp_{"pier-agent-lbrt-"};
  std::string dir_ = temp_.path(), prefix_;
  int port_ = 0, backend_port_ = 0;
  msg::State state_;
  std::map<std::string, std::unique_ptr<Backend>> backends_;
  ManualClock clock_;
  std::vector<pid_t> masters_;
};

TEST_F(LbApplierRuntimeTest, ScalingChangesServersWithoutReload) {
  LbApplier lb(options(), clock_);
  run({1, 2});
  ASSERT_TRUE(apply_now(lb, clock_, config()));
  track(lb);
  ASSERT_GT(lb.master_pid(), 0) << lb.status().error;
  const pid_t master = lb.master_pid();
  ASSERT_TRUE(eventually([&] { return answers(port_, 8) == served({1, 2}); })) << *answers(port_, 8).begin();

  // 2 -> 4: through the Runtime API; the new servers take traffic once their checks pass.
  run({1, 2, 3, 4});
  msg::LbConfig four = config();
  ASSERT_TRUE(apply_now(lb, clock_, four));
  EXPECT_EQ(lb.status().error, "");
  EXPECT_EQ(lb.status().reloads, 0);
  EXPECT_EQ(lb.status().runtime_updates, 1);
  EXPECT_EQ(lb.status().hash, four.hash);
  EXPECT_EQ(lb.status().servers, (std::vector<std::string>{"web-1", "web-2", "web-3", "web-4"}));
  EXPECT_EQ(lb.master_pid(), master);
  EXPECT_EQ(files::read_text(lb.config_path()), four.haproxy_cfg) << "the file describes what runs";
  EXPECT_EQ(haproxy_servers("app_web_" + std::to_string(backend_port_)),
            (std::set<std::string>{"web-1", "web-1_failopen", "web-2", "web-2_failopen", "web-3", "web-3_failopen",
                                   "web-4", "web-4_failopen"}));
  EXPECT_TRUE(eventually([&] { return answers(port_, 16) == served({1, 2, 3, 4}); }));
  // What HAProxy's own checks say, for `pier deploy` to call the app live.
  const auto servers_up_become = [&](const std::vector<std::string>& want) {
    return eventually([&] {
      clock_.advance(1000);
      lb.tick();
      return lb.status().servers_up == want;
    });
  };
  EXPECT_TRUE(servers_up_become({"web-1", "web-2", "web-3", "web-4"}));

  // 4 -> 1
  run({3});
  ASSERT_TRUE(apply_now(lb, clock_, config()));
  EXPECT_EQ(lb.status().error, "");
  EXPECT_EQ(lb.status().reloads, 0);
  EXPECT_EQ(lb.status().runtime_updates, 2);
  EXPECT_EQ(lb.status().servers, std::vector<std::string>{"web-3"});
  EXPECT_EQ(haproxy_servers("app_web_" + std::to_string(backend_port_)),
            (std::set<std::string>{"web-3", "web-3_failopen"}));
  EXPECT_EQ(answers(port_, 16), served({3})) << "deleted servers take no more requests";
  EXPECT_TRUE(servers_up_become({"web-3"}));

  // A structural change (a new external port) reloads, and HAProxy then runs the file's servers.
  const int second_port = test_support::free_port();
  state_.apps[0].spec.ports.push_back({second_port, backend_port_});
  ASSERT_TRUE(apply_now(lb, clock_, config()));
  EXPECT_EQ(lb.status().error, "");
  EXPECT_EQ(lb.status().reloads, 1);
  EXPECT_EQ(lb.status().runtime_updates, 2);
  EXPECT_EQ(lb.master_pid(), master);
  EXPECT_TRUE(eventually([&] { return answers(second_port, 4) == served({3}); }));
  EXPECT_TRUE(eventually([&] { return answers(port_, 4) == served({3}); }));
  lb.stop();
}

// With settle_reload_ms (agents on an overlay), servers added at run time, which lack the options
// HAProxy refuses for dynamic servers (tcp-ut), get the file's by one reload once the adds are over;
// a deletion alone reloads nothing.
TEST_F(LbApplierRuntimeTest, SettleReloadFollowsRuntimeAdds) {
  LbApplierOptions o = options();
  o.settle_reload_ms = 3000;
  LbApplier lb(o, clock_);
  run({1});
  ASSERT_TRUE(apply_now(lb, clock_, config()));
  track(lb);
  ASSERT_GT(lb.master_pid(), 0) << lb.status().error;
  const HaproxyRuntimeApi api(dir_ + "/haproxy/haproxy.sock");
  const auto worker = [&] {
    auto info = api.send("show info");
    if (!info.ok()) return std::string();
    const auto at = info->find("\nPid: ");
    return at == std::string::npos ? std::string() : info->substr(at + 6, info->find('\n', at + 1) - at - 6);
  };
  const std::string first_worker = worker();
  ASSERT_FALSE(first_worker.empty());

  run({1, 2});
  ASSERT_TRUE(apply_now(lb, clock_, config()));
  clock_.advance(2000);
  run({1, 2, 3});
  ASSERT_TRUE(apply_now(lb, clock_, config()));  // a later add moves the reload back
  EXPECT_EQ(lb.status().runtime_updates, 2);
  clock_.advance(2999);
  lb.tick();
  EXPECT_EQ(lb.status().reloads, 0) << "reloaded before the adds had settled";
  EXPECT_EQ(worker(), first_worker);
  clock_.advance(1);
  EXPECT_TRUE(finish(lb, clock_, lb.tick()));
  EXPECT_EQ(lb.status().reloads, 1);
  EXPECT_EQ(lb.status().error, "");
  EXPECT_TRUE(eventually([&] { return !worker().empty() && worker() != first_worker; })) << "no new worker";
  EXPECT_TRUE(eventually([&] { return answers(port_, 12) == served({1, 2, 3}); }));
  clock_.advance(10'000);
  lb.tick();
  EXPECT_EQ(lb.status().reloads, 1) << "one reload per settled burst";

  run({1, 3});
  ASSERT_TRUE(apply_now(lb, clock_, config()));
  EXPECT_EQ(lb.status().runtime_updates, 3);
  clock_.advance(10'000);
  lb.tick();
  EXPECT_EQ(lb.status().reloads, 1) << "a deletion needs no reload";
}

TEST_F(LbApplierRuntimeTest, ServerAddedAtRunTimeServesAtOnce) {
  LbApplier lb(options(), clock_);
  run({1});
  ASSERT_TRUE(apply_now(lb, clock_, config()));
  track(lb);
  ASSERT_TRUE(eventually([&] { return answers(port_, 4) == served({1}); }));
  run({1, 2});
  ASSERT_TRUE(apply_now(lb, clock_, config()));
  EXPECT_EQ(lb.status().runtime_updates, 1);
  // No wait for `rise` checks: the agent reported it running once its check passed, so it is UP and
  // in the rotation as soon as apply() returns, as a server of a freshly loaded config would be.
  const ServerState web2 = server_state("web-2");
  EXPECT_TRUE(web2.serving()) << "op state " << web2.op_state << ", admin state " << web2.admin_state;
  EXPECT_EQ(answers(port_, 4), served({1, 2}));
  lb.stop();
}

TEST_F(LbApplierRuntimeTest, ServerAddedAtRunTimeWhoseCheckFailsIsTakenOut) {
  LbApplier lb(options(), clock_);
  run({1});
  ASSERT_TRUE(apply_now(lb, clock_, config()));
  track(lb);
  ASSERT_TRUE(eventually([&] { return answers(port_, 4) == served({1}); }));
  run({1, 2}, 500);  // web-2 answers, but its /health fails
  ASSERT_TRUE(apply_now(lb, clock_, config()));
  EXPECT_EQ(lb.status().runtime_updates, 1);
  // HAProxy's own checks (every 100 ms) keep watching it: the first failure takes it out.
  EXPECT_TRUE(eventually([&] { return server_state("web-2").op_state == 0; }));
  EXPECT_EQ(answers(port_, 8), served({1}));
  lb.stop();
}

TEST_F(LbApplierRuntimeTest, FailOpenCoversServersAddedAtRunTime) {
  LbApplier lb(options(), clock_);
  run({1}, 500);
  ASSERT_TRUE(apply_now(lb, clock_, config()));
  track(lb);
  ASSERT_TRUE(eventually([&] { return server_state("web-1").op_state == 0; }));
  run({1, 2}, 500);
  ASSERT_TRUE(apply_now(lb, clock_, config()));
  EXPECT_EQ(lb.status().runtime_updates, 1);
  ASSERT_TRUE(eventually([&] { return server_state("web-2").op_state == 0; }));
  EXPECT_TRUE(eventually([&] { return answers(port_, 8) == served({1, 2}); })) << "both twins take traffic";
  lb.stop();
}

TEST_F(LbApplierRuntimeTest, FailOpenWhenEveryServerIsDown) {
  LbApplier lb(options(), clock_);
  run({1, 2}, 500);  // both answer requests, both fail their health check
  ASSERT_TRUE(apply_now(lb, clock_, config()));
  track(lb);
  // Once both are marked down, HAProxy still sends requests to them (through their backup twins).
  const std::string stats = "show servers state app_web_" + std::to_string(backend_port_);
  const HaproxyRuntimeApi api(dir_ + "/haproxy/haproxy.sock");
  EXPECT_TRUE(eventually([&] {
    auto text = api.send(stats);
    // srv_op_state (6th column) 0 = down, for both checked servers.
    int down = 0;
    std::istringstream lines(text.ok() ? *text : "");
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream w(line);
      std::string a, b, c, name, addr, op;
      if (w >> a >> b >> c >> name >> addr >> op && name.find('_') == std::string::npos && op == "0") ++down;
    }
    return down == 2;
  }));
  EXPECT_TRUE(eventually([&] { return answers(port_, 8) == served({1, 2}); })) << "fail-open: no 503";

  // A dead instance among them is retried on another one (`option redispatch 1`: after HAProxy's
  // turn-around of up to 1 s), so every request still gets an answer.
  backends_.erase("web-1");
  EXPECT_TRUE(eventually([&] { return answers(port_, 4) == served({2}); }, 20s));
  lb.stop();
}

TEST_F(LbApplierRuntimeTest, RefusedRuntimeCommandFallsBackToAReload) {
  LbApplier lb(options(), clock_);
  run({1, 2});
  ASSERT_TRUE(apply_now(lb, clock_, config()));
  track(lb);
  // Someone deletes web-2 behind the agent's back: the planned `set server .../web-2 state maint` fails.
  const HaproxyRuntimeApi api(dir_ + "/haproxy/haproxy.sock");
  const std::string be = "app_web_" + std::to_string(backend_port_);
  ASSERT_EQ(*api.send("set server " + be + "/web-2 state maint"), "\n");
  ASSERT_EQ(*api.send("del server " + be + "/web-2"), "Server deleted.\n");
  run({1, 3});
  ASSERT_TRUE(apply_now(lb, clock_, config()));
  EXPECT_EQ(lb.status().error, "");
  EXPECT_EQ(lb.status().reloads, 1);
  EXPECT_EQ(lb.status().runtime_updates, 0);
  EXPECT_EQ(lb.status().servers, (std::vector<std::string>{"web-1", "web-3"}));
  EXPECT_TRUE(eventually([&] { return answers(port_, 8) == served({1, 3}); }));
  lb.stop();
}

TEST_F(LbApplierRuntimeTest, RuntimeApiOffReloadsEveryChange) {
  LbApplierOptions o = options();
  o.runtime_api = false;
  LbApplier lb(o, clock_);
  run({1});
  ASSERT_TRUE(apply_now(lb, clock_, config()));
  track(lb);
  run({1, 2});
  ASSERT_TRUE(apply_now(lb, clock_, config()));
  EXPECT_EQ(lb.status().reloads, 1);
  EXPECT_EQ(lb.status().runtime_updates, 0);
  lb.stop();
}

TEST_F(LbApplierRuntimeTest, AdoptingAgentKeepsUsingTheRuntimeApi) {
  pid_t master = 0;
  run({1});
  {
    LbApplier first(options(), clock_);
    ASSERT_TRUE(apply_now(first, clock_, config()));
    track(first);
    master = first.master_pid();
    run({1, 2});
    ASSERT_TRUE(apply_now(first, clock_, config()));
    EXPECT_EQ(first.status().runtime_updates, 1);
  }
  LbApplier second(options(), clock_);
  finish(second, clock_);
  ASSERT_TRUE(second.adopted());
  EXPECT_EQ(second.master_pid(), master);
  EXPECT_TRUE(eventually([&] {
    return answers(port_, 8) == served({1, 2});
  })) << "the adoption reload runs haproxy.cfg, which holds the runtime-added server";
  run({2});
  ASSERT_TRUE(apply_now(second, clock_, config()));
  EXPECT_EQ(second.status().runtime_updates, 2) << second.status().error;
  EXPECT_EQ(answers(port_, 8), served({2}));
  second.stop();
}

}  // namespace
}  // namespace pier::agent
