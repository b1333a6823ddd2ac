// with_request_log on config text, and RequestLog on a real unix datagram socket.
#include "services/agent/request_log.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "tests/support/eventually.h"
#include "tests/support/temp_dir.h"

namespace pier::agent {
namespace {

namespace fs = std::filesystem;

TEST(WithRequestLog, AddsLoggingToTheNamedHttpFrontendsOnly) {
  const std::string config =
      "global\n    maxconn 10\ndefaults\n    mode http\n    timeout client 1s\n"
      "frontend stats\n    mode http\n    bind 127.0.0.1:8404\n"
      "# a comment\n"
      "frontend fe_80\n    mode http\n    bind 127.0.0.1:80\n    default_backend app_web_8000\n"
      "frontend fe_5432\n    mode tcp\n    bind 127.0.0.1:5432\n"
      "backend app_web_8000\n    mode http\n    server web-1 127.0.0.2:8000 check\n";
  const std::string out = with_request_log(config, "/run/a/requests.sock", {"fe_80", "fe_5432"});
  const std::string log = "    log unix@/run/a/requests.sock len 1024 format raw local0 info\n    option httplog\n";
  EXPECT_EQ(out,
            "global\n    maxconn 10\ndefaults\n    mode http\n    timeout client 1s\n"
            "frontend stats\n    mode http\n"
            "    bind 127.0.0.1:8404\n"
            "# a comment\n"
            "frontend fe_80\n    mode http\n" +
                log +
                "    bind 127.0.0.1:80\n    default_backend app_web_8000\n"
                "frontend fe_5432\n    mode tcp\n    bind 127.0.0.1:5432\n"
                "backend app_web_8000\n    mode http\n    server web-1 127.0.0.2:8000 check\n");
  EXPECT_EQ(with_request_log(config, "", {"fe_80"}), config);
  EXPECT_EQ(with_request_log(config, "/s", {}), config);
  EXPECT_EQ(with_request_log("frontend a\n  mode http", "/s", {"a"}),
            "frontend a\n  mode http\n  log unix@/s len 1024 format raw local0 info\n  option httplog");
  EXPECT_EQ(with_request_log("frontend a\n  bind x", "/s", {"a"}), "frontend a\n  bind x") << "no final newline kept";
  EXPECT_EQ(with_request_log("", "/s", {"a"}), "");
}

TEST(WithRequestLog, FrontendsRoutingToABackendThatAsksForIt) {
  msg::LbSpec spec;
  spec.backends.resize(3);
  spec.backends[0].name = "app_web_8000";
  spec.backends[0].request_log = true;
  spec.backends[1].name = "app_api_8000";
  spec.backends[2].name = "app_db_5432";
  spec.backends[2].request_log = true;
  spec.frontends = {{"fe_80", 80, "http", {{"/api", "app_api_8000"}, {"/", "app_web_8000"}}},
                    {"fe_81", 81, "http", {{"/", "app_api_8000"}}},
                    {"fe_5432", 5432, "tcp", {{"/", "app_db_5432"}}}};
  EXPECT_EQ(frontends_to_log(spec), (std::set<std::string>{"fe_80"})) << "tcp frontends have no request log";
}

class RequestLogTest : public ::testing::Test {
 protected:
  // Sends one datagram to `path`, as HAProxy does (unconnected, sendto).
  static bool send_to(const std::string& path, const std::string& text) {
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    const ssize_t n = ::sendto(fd, text.data(), text.size(), 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::close(fd);
    return n == static_cast<ssize_t>(text.size());
  }
  static std::string line(int ms) {
    return "127.0.0.1:1 [25/Nov/2026:21:18:14.762] fe app_web_8000/web-1 0/0/0/1/" + std::to_string(ms) +
           " 200 10 - - ---- 1/1/0/0/0 0/0 \"GET / HTTP/1.1\"\n";
  }
  pier::testing::TempDir temp_{"pier-reqlog-"};
  std::string dir_ = temp_.path();
};

TEST_F(RequestLogTest, ReadsParsesAndHandsOverOnce) {
  const std::string path = dir_ + "/requests.sock";
  std::ofstream(path) << "stale";  // a previous agent's file is replaced
  auto log = RequestLog::open(path);
  ASSERT_TRUE(log.ok()) << log.status().message();
  std::vector<LoggedRequest> got;
  int sent = 0;
  // The kernel queues at most a few datagrams: send one at a time, as the reader drains them.
  for (int i = 1; i <= 50; ++i) sent += send_to(path, line(i)) ? 1 : 0;
  ASSERT_TRUE(send_to(path, "garbage"));
  ASSERT_TRUE(test_support::eventually([&] {
    for (auto& r : (*log)->take()) got.push_back(r);
    return static_cast<int>(got.size()) >= sent;
  }));
  ASSERT_EQ(static_cast<int>(got.size()), sent);
  EXPECT_GE(sent, 1);
  EXPECT_EQ(got.front().backend, "app_web_8000");
  EXPECT_TRUE((*log)->take().empty());
  EXPECT_EQ((*log)->dropped(), 0u);
  log->reset();
  EXPECT_FALSE(fs::exists(path)) << "the socket file goes with the reader";
}

TEST_F(RequestLogTest, BoundedAndCounted) {
  const std::string path = dir_ + "/requests.sock";
  auto log = RequestLog::open(path, 3);
  ASSERT_TRUE(log.ok());
  int sent = 0;
  for (int i = 0; i < 10; ++i) sent += send_to(path, line(i)) ? 1 : 0;
  ASSERT_TRUE(test_support::eventually([&] { return (*log)->dropped() + 3 >= static_cast<uint64_t>(sent); }));
  EXPECT_EQ((*log)->take().size(), 3u);
}

TEST_F(RequestLogTest, BadPathIsAnError) {
  EXPECT_FALSE(RequestLog::open("").ok());
  EXPECT_FALSE(RequestLog::open(std::string(200, 'x')).ok());
  EXPECT_FALSE(RequestLog::open(dir_ + "/missing/dir/requests.sock").ok());
}

}  // namespace
}  // namespace pier::agent
