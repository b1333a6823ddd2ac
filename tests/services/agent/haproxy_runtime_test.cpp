// HaproxyRuntimeApi against the real HAProxy (/usr/sbin/haproxy) and its admin socket.
#include "services/agent/haproxy_runtime.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/process.h"
#include "tests/support/free_port.h"
#include "tests/support/temp_dir.h"

namespace pier::agent {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class HaproxyRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    socket_ = dir_ + "/haproxy.sock";
    std::ofstream(dir_ + "/haproxy.cfg")
        << "global\n    maxconn 100\n    stats socket " << socket_ << " mode 600 level admin\n"
        << "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n"
        << "frontend fe\n    bind 127.0.0.1:" << test_support::free_port() << "\n    default_backend be\n"
        << "backend be\n    balance roundrobin\n    server s1 127.0.0.1:1 check\n";
    process::SpawnOptions spawn;
    spawn.argv = {"/usr/sbin/haproxy", "-db", "-f", dir_ + "/haproxy.cfg"};
    spawn.output_path = dir_ + "/haproxy.log";
    auto pid = process::spawn(spawn);
    ASSERT_TRUE(pid.ok()) << pid.status().message();
    pid_ = *pid;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!fs::exists(socket_) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
    ASSERT_TRUE(fs::exists(socket_));
  }
  void TearDown() override {
    if (pid_ > 0) process::stop(pid_, 2000);
  }
  pier::testing::TempDir temp_{"pier-haproxy-api-"};
  std::string dir_ = temp_.path(), socket_;
  pid_t pid_ = 0;
};

TEST_F(HaproxyRuntimeTest, SendsACommandAndReadsTheWholeAnswer) {
  HaproxyRuntimeApi api(socket_);
  auto info = api.send("show info");
  ASSERT_TRUE(info.ok()) << info.status().message();
  EXPECT_NE(info->find("Name: HAProxy"), std::string::npos) << *info;
  auto state = api.send("show servers state be");
  ASSERT_TRUE(state.ok());
  EXPECT_NE(state->find(" s1 127.0.0.1 "), std::string::npos) << *state;
}

TEST_F(HaproxyRuntimeTest, DynamicServerLifecycle) {
  HaproxyRuntimeApi api(socket_);
  EXPECT_EQ(*api.send("add server be/s2 127.0.0.2:80 check inter 100 rise 2 fall 3"), "New server registered.\n\n");
  EXPECT_EQ(*api.send("enable health be/s2"), "\n");
  EXPECT_EQ(*api.send("enable server be/s2; set server be/s2 health down"), "\n\n");
  EXPECT_NE(api.send("show servers state be")->find(" s2 127.0.0.2 "), std::string::npos);
  EXPECT_EQ(*api.send("del server be/s2"), "Only servers in maintenance mode can be deleted.\n");
  EXPECT_EQ(*api.send("set server be/s2 state maint"), "\n");
  EXPECT_EQ(*api.send("del server be/s2"), "Server deleted.\n");
  EXPECT_EQ(*api.send("enable server be/s2"), "No such server.\n\n");
}

TEST_F(HaproxyRuntimeTest, MissingSocketIsAnError) {
  HaproxyRuntimeApi api(dir_ + "/nothing.sock", 500);
  auto answer = api.send("show info");
  ASSERT_FALSE(answer.ok());
  EXPECT_NE(answer.status().message().find("cannot connect"), std::string::npos) << answer.status().message();
  EXPECT_FALSE(HaproxyRuntimeApi("").send("show info").ok());
  EXPECT_FALSE(HaproxyRuntimeApi(std::string(200, 'x')).send("show info").ok());
}

TEST_F(HaproxyRuntimeTest, SilentPeerTimesOut) {
  // A unix socket that listens but never accepts: connect succeeds (backlog), no answer comes.
  const std::string path = dir_ + "/silent.sock";
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  const auto start = std::chrono::steady_clock::now();
  auto answer = HaproxyRuntimeApi(path, 200).send("show info");
  EXPECT_FALSE(answer.ok());
  EXPECT_NE(answer.status().message().find("timed out"), std::string::npos) << answer.status().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  ::close(fd);
}

}  // namespace
}  // namespace pier::agent
