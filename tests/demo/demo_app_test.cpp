// The real pier-demo-app on a free 127.0.0.1 port: GET /work?ms=N answers like / after burning N ms of
// CPU; a bad ms is a 400 naming `ms`; every response leaves in one TCP segment.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "common/process.h"
#include "tests/demo/tcp_segments.h"
#include "tests/support/eventually.h"
#include "tests/support/free_port.h"
#include "tests/support/raw_http.h"

namespace pier {
namespace {

class DemoAppTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = test_support::free_port();
    auto pid = process::spawn({{std::string(PIER_BIN_DIR) + "/pier-demo-app", "--host", "127.0.0.1", "--port",
                                std::to_string(port_), "--instance", "web-1", "--app", "web", "--host-id", "h1"},
                               {},
                               "",
                               "",
                               true});
    ASSERT_TRUE(pid.ok()) << pid.status().message();
    pid_ = *pid;
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client_->set_read_timeout(std::chrono::seconds(5));
    ASSERT_TRUE(test_support::eventually([&] {
      auto res = client_->Get("/healthz");
      return res && res->status == 200;
    })) << "pier-demo-app did not answer on port "
        << port_;
  }
  void TearDown() override {
    if (pid_ > 0) {
      EXPECT_EQ(process::stop(pid_, 5000), 0) << "SIGTERM stops it cleanly";
    }
  }

  int port_ = 0;
  pid_t pid_ = 0;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(DemoAppTest, WorkBurnsTheTimeAskedAndAnswersWithTheInstance) {
  const auto start = std::chrono::steady_clock::now();
  auto res = client_->Get("/work?ms=200");
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "instance=web-1 app=web host=h1 path=/work ms=200\n");
  EXPECT_GE(took, std::chrono::milliseconds(200));

  auto root = client_->Get("/");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->body, "instance=web-1 app=web host=h1 path=/\n") << "other paths are unchanged";
}

TEST_F(DemoAppTest, ABadMsIsA400NamingMs) {
  for (const char* path : {"/work", "/work?ms=0", "/work?ms=10001", "/work?ms=-1", "/work?ms=abc", "/work?ms="}) {
    auto res = client_->Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 400) << path;
    EXPECT_EQ(res->body.rfind("error: ms: ", 0), 0u) << path << ": " << res->body;
    EXPECT_NE(res->body.find("1 to 10000"), std::string::npos) << res->body;
  }
}

// A response cut between its headers and its body (the instance killed in between) is a failed request
// no load balancer can send again; one segment per response leaves a kill nothing to cut.
TEST_F(DemoAppTest, EachResponseArrivesInOneSegmentOnAKeptAliveConnection) {
  const int fd = test_support::connect_loopback(port_, 5);
  ASSERT_GE(fd, 0);
  const std::string body = "instance=web-1 app=web host=h1 path=/\n";
  for (int request = 0; request < 3; ++request) {
    const uint32_t before = test_support::data_segments_in(fd);
    const std::string get = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    ASSERT_EQ(::send(fd, get.data(), get.size(), MSG_NOSIGNAL), static_cast<ssize_t>(get.size()));
    std::string response;
    char buf[4096];
    while (response.find(body) == std::string::npos) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      ASSERT_GT(n, 0) << "request " << request << " got: " << response;
      response.append(buf, static_cast<size_t>(n));
    }
    EXPECT_EQ(response.rfind("HTTP/1.1 200", 0), 0u) << response;
    EXPECT_EQ(test_support::data_segments_in(fd) - before, 1u) << "request " << request << ": " << response;
  }
  ::close(fd);
}

}  // namespace
}  // namespace pier
