// LbApplier against the real HAProxy (/usr/sbin/haproxy), on ports the OS picks.
#include "services/agent/lb_applier.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

#include "common/process.h"
#include "tests/services/agent/lb_steps.h"
#include "tests/support/eventually.h"
#include "tests/support/free_port.h"
#include "tests/support/raw_http.h"
#include "tests/support/temp_dir.h"

namespace pier::agent {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kHaproxy = "/usr/sbin/haproxy";

using test_support::eventually;

using test_support::free_port;

// The body of GET / on 127.0.0.1:port, or "" when nothing answers.
std::string get(int port) {
  const std::string response = test_support::raw_get(port);
  const auto body = response.find("\r\n\r\n");
  return body == std::string::npos ? std::string() : response.substr(body + 4);
}

class LbApplierTest : public ::testing::Test {
 protected:
  void SetUp() override { port_ = free_port(); }
  void TearDown() override { kill_masters(masters_); }
  LbApplierOptions options() {
    LbApplierOptions o;
    o.dir = dir_ + "/haproxy";
    o.haproxy = kHaproxy;
    o.stop_grace_ms = 2000;
    return o;
  }
  // A config that answers every request on port_ with `body`, with servers named in its spec.
  msg::LbConfig config(const std::string& body, std::vector<std::string> servers = {"web-1"}) {
    msg::LbConfig c;
    c.host_id = "h1";
    c.state_revision = ++revision_;
    c.haproxy_cfg = "global\n    maxconn 200\n    stats socket " + dir_ +
                    "/haproxy/haproxy.sock mode 600 level admin expose-fd listeners\n"
                    "defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n"
                    "frontend fe\n    bind 127.0.0.1:" +
                    std::to_string(port_) +
                    "\n"
                    "    http-request return status 200 content-type text/plain string " +
                    body + "\n";
    c.hash = "hash-" + body;
    msg::LbBackend backend;
    backend.name = "app_web_8000";
    for (const auto& s : servers) backend.servers.push_back({s, "127.100.0.2", 8000});
    c.spec.backends = {backend};
    return c;
  }
  void track(const LbApplier& lb) {
    if (lb.master_pid() > 0) masters_.push_back(lb.master_pid());
  }

  pier::testing::TempDir temp_{"pier-agent-lb-"};
  std::string dir_ = temp_.path();
  int port_ = 0;
  int64_t revision_ = 0;
  ManualClock clock_;
  std::vector<pid_t> masters_;
};

TEST_F(LbApplierTest, ValidConfigIsServedAndReloadKeepsTheMaster) {
  LbApplier lb(options(), clock_);
  EXPECT_EQ(lb.master_pid(), 0);
  ASSERT_TRUE(apply_now(lb, clock_, config("v1", {"web-2", "web-1"})));
  track(lb);
  ASSERT_GT(lb.master_pid(), 0) << lb.status().error;
  EXPECT_EQ(lb.status().hash, "hash-v1");
  EXPECT_EQ(lb.status().state_revision, 1);
  EXPECT_EQ(lb.status().servers, (std::vector<std::string>{"web-1", "web-2"}));
  EXPECT_EQ(lb.status().error, "");
  EXPECT_EQ(lb.status().reloads, 0);
  EXPECT_TRUE(fs::exists(lb.config_path()));
  EXPECT_TRUE(eventually([&] { return get(port_) == "v1"; })) << process::exists(lb.master_pid());
  const pid_t master = lb.master_pid();

  EXPECT_FALSE(apply_now(lb, clock_, config("v1"))) << "the same hash again changes nothing (not even the revision)";
  EXPECT_EQ(lb.status().state_revision, 1);

  ASSERT_TRUE(apply_now(lb, clock_, config("v2", {"web-3"})));
  EXPECT_EQ(lb.master_pid(), master);
  EXPECT_EQ(lb.status().reloads, 1);
  EXPECT_EQ(lb.status().servers, std::vector<std::string>{"web-3"});
  EXPECT_TRUE(eventually([&] { return get(port_) == "v2"; }));
  EXPECT_TRUE(process::exists(master));
  EXPECT_FALSE(lb.tick());

  lb.stop();
  EXPECT_EQ(lb.master_pid(), 0);
  EXPECT_FALSE(process::exists(master));
  EXPECT_FALSE(fs::exists(lb.pid_path()));
  EXPECT_TRUE(eventually([&] { return get(port_).empty(); }));
}

// A SIGUSR2 that lands while the master still loads is lost: every apply waits for the load it asked for.
TEST_F(LbApplierTest, BackToBackConfigsAreAllServed) {
  LbApplier lb(options(), clock_);
  ASSERT_TRUE(apply_now(lb, clock_, config("v1")));
  track(lb);
  EXPECT_EQ(get(port_), "v1") << "the first start waits until HAProxy is loaded";
  for (const char* body : {"v2", "v3", "v4", "v5"}) {
    ASSERT_TRUE(apply_now(lb, clock_, config(body)));
    EXPECT_EQ(lb.status().error, "");
    // The previous worker may answer a moment longer; a lost reload would never serve `body`.
    EXPECT_TRUE(eventually([&] { return get(port_) == body; })) << body;
  }
  EXPECT_EQ(lb.status().reloads, 4);
  lb.stop();
}

TEST_F(LbApplierTest, HaproxyThatCannotStartIsReportedAndRetried) {
  // Hold the port without SO_REUSEPORT: HAProxy cannot bind it.
  const int holder = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(holder, 1), 0);
  LbApplier lb(options(), clock_);
  ASSERT_TRUE(apply_now(lb, clock_, config("v1")));
  EXPECT_EQ(lb.master_pid(), 0);
  EXPECT_NE(lb.status().error, "");
  EXPECT_EQ(lb.status().hash, "") << "nothing runs";
  ::close(holder);
  clock_.advance(1000);
  EXPECT_TRUE(finish(lb, clock_, lb.tick()));
  track(lb);
  ASSERT_GT(lb.master_pid(), 0) << lb.status().error;
  EXPECT_EQ(lb.status().error, "");
  EXPECT_EQ(get(port_), "v1");
  lb.stop();
}

TEST_F(LbApplierTest, InvalidConfigIsRefusedAndTheLastGoodOneKeepsServing) {
  LbApplier lb(options(), clock_);
  ASSERT_TRUE(apply_now(lb, clock_, config("v1")));
  track(lb);
  ASSERT_TRUE(eventually([&] { return get(port_) == "v1"; }));
  const pid_t master = lb.master_pid();

  msg::LbConfig bad = config("bad");
  bad.haproxy_cfg += "    no_such_keyword here\n";
  ASSERT_TRUE(apply_now(lb, clock_, bad));
  EXPECT_NE(lb.status().error, "");
  EXPECT_NE(lb.status().error.find("no_such_keyword"), std::string::npos) << lb.status().error;
  EXPECT_EQ(lb.status().hash, "hash-v1");
  EXPECT_EQ(lb.status().servers, std::vector<std::string>{"web-1"});
  EXPECT_EQ(lb.status().reloads, 0);
  EXPECT_EQ(lb.master_pid(), master);
  EXPECT_EQ(get(port_), "v1");
  EXPECT_FALSE(apply_now(lb, clock_, bad)) << "a refused config is not checked again";

  ASSERT_TRUE(apply_now(lb, clock_, config("v2")));
  EXPECT_EQ(lb.status().error, "");
  EXPECT_EQ(lb.status().hash, "hash-v2");
  EXPECT_TRUE(eventually([&] { return get(port_) == "v2"; }));
  lb.stop();
}

TEST_F(LbApplierTest, FirstConfigRefusedStartsNothing) {
  LbApplier lb(options(), clock_);
  msg::LbConfig bad = config("bad");
  bad.haproxy_cfg = "frontend\n";
  ASSERT_TRUE(apply_now(lb, clock_, bad));
  EXPECT_EQ(lb.master_pid(), 0);
  EXPECT_NE(lb.status().error, "");
  EXPECT_EQ(lb.status().hash, "");
}

TEST_F(LbApplierTest, NewApplierAdoptsTheRunningMaster) {
  pid_t master = 0;
  {
    LbApplier first(options(), clock_);
    ASSERT_TRUE(apply_now(first, clock_, config("v1")));
    track(first);
    master = first.master_pid();
    ASSERT_GT(master, 0);
    ASSERT_TRUE(eventually([&] { return get(port_) == "v1"; }));
  }  // the agent exits without stopping HAProxy
  ASSERT_TRUE(process::exists(master));
  LbApplier second(options(), clock_);
  EXPECT_TRUE(second.busy()) << "adopting begins a reload";
  finish(second, clock_);
  EXPECT_TRUE(second.adopted());
  EXPECT_EQ(second.master_pid(), master);
  EXPECT_EQ(second.status().hash, "hash-v1");
  EXPECT_EQ(second.status().servers, std::vector<std::string>{"web-1"});
  EXPECT_EQ(second.status().error, "") << "adopting reloads the master once";
  EXPECT_FALSE(apply_now(second, clock_, config("v1"))) << "already running that config";
  EXPECT_TRUE(eventually([&] { return get(port_) == "v1"; }));

  ASSERT_TRUE(apply_now(second, clock_, config("v2")));
  EXPECT_EQ(second.master_pid(), master) << "reloaded, not a second HAProxy";
  EXPECT_EQ(second.status().reloads, 1);
  EXPECT_TRUE(eventually([&] { return get(port_) == "v2"; }));
  second.stop();
  EXPECT_TRUE(eventually([&] { return ::waitpid(master, nullptr, WNOHANG) == master; }));
}

TEST_F(LbApplierTest, DeadMasterIsRestartedAfterABackoff) {
  LbApplier lb(options(), clock_);
  ASSERT_TRUE(apply_now(lb, clock_, config("v1")));
  track(lb);
  const pid_t master = lb.master_pid();
  ASSERT_TRUE(eventually([&] { return get(port_) == "v1"; }));
  ::kill(-master, SIGKILL);  // master and workers
  EXPECT_TRUE(eventually([&] {
    lb.tick();
    return lb.master_pid() == 0;
  }));
  EXPECT_EQ(lb.master_pid(), 0);
  clock_.advance(1000);
  lb.tick();
  track(lb);
  finish(lb, clock_);
  ASSERT_GT(lb.master_pid(), 0) << lb.status().error;
  EXPECT_NE(lb.master_pid(), master);
  EXPECT_TRUE(eventually([&] { return get(port_) == "v1"; }));
  lb.stop();
}

}  // namespace
}  // namespace pier::agent
