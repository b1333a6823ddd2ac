// The real pier-demo-app on a free 127.0.0.1 port: GET /work?ms=N answers like / after burning N ms of
// CPU; a bad ms is a 400 naming `ms`.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <string>

#include "common/process.h"
#include "tests/support/eventually.h"
#include "tests/support/free_port.h"

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

}  // namespace
}  // namespace pier
