// ConfigCheck and HaproxyMaster with stand-in haproxy programs (sh scripts) and a ManualClock: every
// timeout is the clock's, so a check or a load that never ends is ended by moving the clock, and no
// call here waits on the program.
#include "services/agent/haproxy_master.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <optional>

#include "common/files.h"
#include "common/process.h"
#include "tests/support/eventually.h"
#include "tests/support/temp_dir.h"

namespace pier::agent {
namespace {

using test_support::eventually;

class HaproxyMasterTest : public ::testing::Test {
 protected:
  // Writes a stand-in haproxy that runs `body` (sh) and returns its path.
  std::string program(const std::string& body) {
    const std::string path = dir_.path() + "/haproxy";
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    ::chmod(path.c_str(), 0755);
    return path;
  }
  HaproxyMasterOptions options(const std::string& haproxy) {
    HaproxyMasterOptions o;
    o.haproxy = haproxy;
    o.config_path = dir_.path() + "/haproxy.cfg";
    o.pid_path = dir_.path() + "/haproxy.pid";
    o.log_path = dir_.path() + "/haproxy.log";
    o.load_timeout_ms = 10'000;
    o.stop_grace_ms = 3000;
    return o;
  }
  // Steps until an outcome comes (or 10 s of real time pass).
  static std::optional<Status> outcome_of(HaproxyMaster& master) {
    std::optional<Status> out;
    eventually([&] { return (out = master.step()).has_value(); });
    return out;
  }
  std::string released() const { return dir_.path() + "/release"; }
  // sh: wait (at most 20 s) until the test creates the release file.
  std::string wait_for_release() const {
    return "i=0; while [ ! -e " + released() + " ] && [ $i -lt 2000 ]; do sleep 0.01; i=$((i+1)); done";
  }

  testing::TempDir dir_{"pier-haproxy-master-"};
  ManualClock clock_;
};

TEST_F(HaproxyMasterTest, CheckReportsPassAndTheAlertLinesOfARefusal) {
  ConfigCheck pass(program("exit 0"), dir_.path() + "/check.log", 15'000, clock_);
  ASSERT_TRUE(pass.begin(dir_.path() + "/haproxy.cfg").ok());
  std::optional<Status> result;
  ASSERT_TRUE(eventually([&] { return (result = pass.poll()).has_value(); }));
  EXPECT_TRUE(result->ok()) << result->message();
  EXPECT_FALSE(pass.running());

  ConfigCheck refuse(program("echo '[NOTICE] noise'; echo '[ALERT] line 3: unknown keyword'; exit 1"),
                     dir_.path() + "/check.log", 15'000, clock_);
  ASSERT_TRUE(refuse.begin(dir_.path() + "/haproxy.cfg").ok());
  ASSERT_TRUE(eventually([&] { return (result = refuse.poll()).has_value(); }));
  ASSERT_FALSE(result->ok());
  EXPECT_EQ(result->message(), "[ALERT] line 3: unknown keyword");
}

TEST_F(HaproxyMasterTest, ACheckThatOutlivesItsTimeOnTheClockIsKilled) {
  ConfigCheck check(program("touch " + dir_.path() + "/began; exec sleep 60"), dir_.path() + "/check.log", 15'000,
                    clock_);
  ASSERT_TRUE(check.begin(dir_.path() + "/haproxy.cfg").ok());
  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(dir_.path() + "/began"); }));
  clock_.advance(14'999);
  EXPECT_FALSE(check.poll().has_value()) << "ended before its time";
  EXPECT_TRUE(check.running());
  clock_.advance(1);
  const auto result = check.poll();
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->message(), "haproxy -c did not finish within 15000 ms");
  EXPECT_FALSE(check.running());
}

TEST_F(HaproxyMasterTest, AStartIsInProgressUntilTheLogSaysLoaded) {
  HaproxyMaster master(options(program(wait_for_release() + "; echo '[NOTICE] Loading success.'; exec sleep 60")),
                       clock_);
  ASSERT_TRUE(master.start().ok());
  EXPECT_EQ(master.operation(), HaproxyMaster::Operation::start);
  ASSERT_GT(master.pid(), 0);
  // However often it is stepped, the start is not over before the program says so.
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(master.step().has_value());
  EXPECT_TRUE(master.alive());
  std::ofstream(released()).close();
  const auto loaded = outcome_of(master);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_TRUE(loaded->ok()) << loaded->message();
  EXPECT_FALSE(master.busy());
  EXPECT_EQ(files::read_text(dir_.path() + "/haproxy.pid"), std::to_string(master.pid()) + "\n");

  master.stop();
  const auto stopped = outcome_of(master);
  ASSERT_TRUE(stopped.has_value());
  EXPECT_TRUE(stopped->ok()) << stopped->message();
  EXPECT_EQ(master.pid(), 0);
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/haproxy.pid"));
}

TEST_F(HaproxyMasterTest, AStartThatNeverLoadsFailsOnTheClockAndLeavesNoMaster) {
  HaproxyMaster master(options(program("exec sleep 60")), clock_);
  ASSERT_TRUE(master.start().ok());
  const pid_t pid = master.pid();
  EXPECT_FALSE(master.step().has_value());
  clock_.advance(10'000);
  const auto result = master.step();
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->message(), "haproxy did not finish loading within 10000 ms");
  EXPECT_EQ(master.pid(), 0);
  EXPECT_FALSE(process::exists(pid)) << "the hung master was left running";
}

TEST_F(HaproxyMasterTest, AMasterThatExitsWhileLoadingReportsItsAlerts) {
  HaproxyMaster master(options(program("echo '[ALERT] cannot bind socket'; exit 1")), clock_);
  ASSERT_TRUE(master.start().ok());
  const auto result = outcome_of(master);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->message(), "haproxy exited: [ALERT] cannot bind socket");
  EXPECT_EQ(master.pid(), 0);
}

TEST_F(HaproxyMasterTest, AReloadTheMasterMissedIsAskedForAgain) {
  // The first SIGUSR2 is lost (as one that lands while HAProxy still loads); the second reloads.
  HaproxyMaster master(options(program("n=0\n"
                                       "trap 'n=$((n+1)); if [ $n -ge 2 ]; then echo Reloading HAProxy; "
                                       "echo Loading success.; fi' USR2\n"
                                       "echo Loading success.\n"
                                       "while :; do sleep 0.01; done")),
                       clock_);
  ASSERT_TRUE(master.start().ok());
  ASSERT_TRUE(outcome_of(master).value_or(Status::Error("none")).ok());
  master.reload();
  EXPECT_EQ(master.operation(), HaproxyMaster::Operation::reload);
  // The lost signal: nothing comes, however long in real time, while the clock stands.
  EXPECT_FALSE(eventually([&] { return master.step().has_value(); }, std::chrono::milliseconds(300)));
  clock_.advance(1000);  // resend_ms
  const auto result = outcome_of(master);
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(result->ok()) << result->message();
  master.stop();
  outcome_of(master);
}

TEST_F(HaproxyMasterTest, AMasterThatIgnoresTermIsKilledAfterTheGrace) {
  HaproxyMaster master(options(program("trap '' TERM\necho Loading success.\nwhile :; do sleep 0.01; done")), clock_);
  ASSERT_TRUE(master.start().ok());
  ASSERT_TRUE(outcome_of(master).value_or(Status::Error("none")).ok());
  const pid_t pid = master.pid();
  master.stop();
  EXPECT_FALSE(eventually([&] { return master.step().has_value(); }, std::chrono::milliseconds(200)))
      << "stopped although it ignores SIGTERM";
  clock_.advance(3000);
  const auto result = master.step();
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->message(), "haproxy did not stop within its grace: killed");
  EXPECT_FALSE(process::exists(pid));
}

}  // namespace
}  // namespace pier::agent
