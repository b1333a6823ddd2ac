#include "services/agent/exec_runtime.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

#include "common/files.h"
#include "common/process.h"
#include "services/agent/proc_stats.h"
#include "tests/support/eventually.h"
#include "tests/support/temp_dir.h"

namespace pier::agent {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

using test_support::eventually;

InstanceSpec spec(const std::string& id, std::vector<std::string> command) {
  InstanceSpec s;
  s.id = id;
  s.app = "web";
  s.ip = "127.100.0.7";
  s.port = 8123;
  s.command = std::move(command);
  s.env = {{"GREETING", "hello there"}};
  s.revision = 42;
  return s;
}

class ExecRuntimeTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (pid_t pid : pids_) {  // whatever a failed test left running
      // Only children not reaped yet (the runtime reaps those it saw exit): a reaped pid may belong to
      // another test's process by now.
      siginfo_t info{};
      if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) continue;
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, WNOHANG);
    }
    for (pid_t pid : pids_)
      for (int i = 0; i < 100 && ::waitpid(pid, nullptr, WNOHANG) == 0; ++i) std::this_thread::sleep_for(10ms);
  }
  pid_t started(ExecRuntime& runtime, const InstanceSpec& s) {
    auto pid = runtime.start(s);
    EXPECT_TRUE(pid.ok()) << pid.status().message();
    if (!pid.ok()) return 0;
    pids_.push_back(*pid);
    return *pid;
  }
  // Polls until `id` exits; nullopt when it does not within the timeout.
  std::optional<InstanceExit> exit_of(ExecRuntime& runtime, const std::string& id,
                                      std::chrono::milliseconds timeout = 10s) {
    std::optional<InstanceExit> found;
    eventually(
        [&] {
          for (auto& e : runtime.poll())
            if (e.id == id) found = e;
          return found.has_value();
        },
        timeout);
    return found;
  }
  std::string read(const std::string& path) { return files::read_text(path); }

  pier::testing::TempDir temp_{"pier-agent-exec-"};
  std::string dir_ = temp_.path();
  SystemClock clock_;
  std::vector<pid_t> pids_;
};

TEST_F(ExecRuntimeTest, InstanceGetsItsEnvironmentLogAndPidFile) {
  ExecRuntime runtime(dir_, "h1", clock_);
  const pid_t pid = started(
      runtime,
      spec("web-1",
           {"sh", "-c",
            "echo \"env PORT=$PORT HOST=$HOST ID=$PIER_INSTANCE APP=$PIER_APP HOSTID=$PIER_HOST_ID G=$GREETING\"; "
            "echo to-stderr >&2; exec sleep 30"}));
  ASSERT_GT(pid, 0);
  const std::string log = runtime.log_path("web-1");
  EXPECT_EQ(log, dir_ + "/instances/web-1.log");
  ASSERT_TRUE(eventually([&] { return read(log).find("to-stderr") != std::string::npos; })) << read(log);
  EXPECT_NE(read(log).find("env PORT=8123 HOST=127.100.0.7 ID=web-1 APP=web HOSTID=h1 G=hello there"),
            std::string::npos)
      << read(log);
  pid_t from_file = 0;
  std::ifstream(runtime.pid_path("web-1")) >> from_file;
  EXPECT_EQ(from_file, pid);
  // Read once the shell has exec'd sleep: during the execve /proc/<pid>/environ can read empty (seen once
  // under ASan in CI).
  std::map<std::string, std::string> env;
  EXPECT_TRUE(eventually([&] {
    env = process_environment(pid);
    return !env["PIER_INSTANCE"].empty();
  }));
  EXPECT_EQ(env["PIER_INSTANCE"], "web-1");
  EXPECT_EQ(env["PIER_REVISION"], "42");
  EXPECT_EQ(::getpgid(pid), pid) << "its own process group";
  ASSERT_EQ(runtime.list().size(), 1u);
  EXPECT_FALSE(runtime.list()[0].adopted);
  EXPECT_TRUE(runtime.poll().empty());
  EXPECT_FALSE(runtime.start(spec("web-1", {"sleep", "1"})).ok()) << "no second copy of a running instance";

  runtime.stop("web-1", 5000);
  auto exit = exit_of(runtime, "web-1");
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->stopped);
  EXPECT_EQ(exit->code, 128 + SIGTERM);
  EXPECT_FALSE(fs::exists(runtime.pid_path("web-1")));
  EXPECT_TRUE(runtime.list().empty());
}

TEST_F(ExecRuntimeTest, ExitReportsCodeAndLastOutputLine) {
  ExecRuntime runtime(dir_, "h1", clock_);
  started(runtime, spec("web-2", {"sh", "-c", "echo first line; echo 'cannot bind 127.100.0.7:8123'; echo; exit 3"}));
  auto exit = exit_of(runtime, "web-2");
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->code, 3);
  EXPECT_FALSE(exit->stopped);
  EXPECT_EQ(exit->last_output, "cannot bind 127.100.0.7:8123");
}

TEST_F(ExecRuntimeTest, MissingProgramIsAnErrorValue) {
  ExecRuntime runtime(dir_, "h1", clock_);
  auto pid = runtime.start(spec("web-3", {"/nonexistent/program"}));
  EXPECT_FALSE(pid.ok());
  EXPECT_FALSE(runtime.start(spec("web-4", {})).ok());
  EXPECT_TRUE(runtime.list().empty());
}

TEST_F(ExecRuntimeTest, StopKillsAfterTheGraceAndTakesTheWholeProcessGroup) {
  ExecRuntime runtime(dir_, "h1", clock_);
  const pid_t pid = started(runtime, spec("web-5", {"sh", "-c",
                                                    "trap '' TERM; sleep 300 & echo child=$!; "
                                                    "while true; do sleep 0.05; done"}));
  ASSERT_GT(pid, 0);
  const std::string log = runtime.log_path("web-5");
  ASSERT_TRUE(eventually([&] { return read(log).find("child=") != std::string::npos; }));
  const pid_t child = std::atoi(read(log).substr(read(log).find("child=") + 6).c_str());
  ASSERT_GT(child, 0);
  const auto begin = std::chrono::steady_clock::now();
  runtime.stop("web-5", 300);
  auto exit = exit_of(runtime, "web-5");
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->code, 128 + SIGKILL);
  EXPECT_GE(std::chrono::steady_clock::now() - begin, 300ms);
  EXPECT_TRUE(eventually([&] { return !process::exists(child); })) << "the background sleep went with its group";
}

TEST_F(ExecRuntimeTest, NewRuntimeAdoptsRunningInstancesAndDropsStalePidFiles) {
  std::optional<ExecRuntime> first(std::in_place, dir_, "h1", clock_);
  const pid_t pid = started(*first, spec("web-6", {"sleep", "30"}));
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(eventually([&] { return process_environment(pid)["PIER_INSTANCE"] == "web-6"; }));
  // A pid file whose process is not that instance (this test process), and one whose process is gone.
  std::ofstream(dir_ + "/instances/web-7.pid") << ::getpid() << "\n";
  std::ofstream(dir_ + "/instances/web-8.pid") << 0x7ffffff0 << "\n";
  first.reset();  // the agent goes away; the instance keeps running

  ExecRuntime second(dir_, "h1", clock_);
  auto running = second.list();
  ASSERT_EQ(running.size(), 1u);
  EXPECT_TRUE(running[0].adopted);
  EXPECT_EQ(running[0].pid, pid);
  EXPECT_EQ(running[0].spec.id, "web-6");
  EXPECT_EQ(running[0].spec.app, "web");
  EXPECT_EQ(running[0].spec.ip, "127.100.0.7");
  EXPECT_EQ(running[0].spec.port, 8123);
  EXPECT_EQ(running[0].spec.revision, 42);
  EXPECT_TRUE(running[0].spec.same_as(spec("web-6", {})));
  EXPECT_FALSE(fs::exists(dir_ + "/instances/web-7.pid"));
  EXPECT_FALSE(fs::exists(dir_ + "/instances/web-8.pid"));
  EXPECT_TRUE(second.poll().empty());

  second.stop("web-6", 5000);
  auto exit = exit_of(second, "web-6");  // the test process is its parent: it is a zombie until reaped
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->code, -1) << "an adopted instance's exit code is unknown";
  EXPECT_TRUE(exit->stopped);
  EXPECT_FALSE(fs::exists(dir_ + "/instances/web-6.pid"));
}

TEST_F(ExecRuntimeTest, ResolveProgram) {
  EXPECT_EQ(resolve_program("sh"), "sh");
  EXPECT_EQ(resolve_program("/bin/sh"), "/bin/sh");
  EXPECT_EQ(resolve_program("no-such-program-anywhere"), "no-such-program-anywhere");
  const fs::path self = fs::read_symlink("/proc/self/exe");
  const std::string name = self.filename().string();
  const std::string saved = std::getenv("PATH") ? std::getenv("PATH") : "";
  ASSERT_EQ(::setenv("PATH", "/nonexistent", 1), 0);
  EXPECT_EQ(resolve_program(name), self.string()) << "found beside this executable";
  ::setenv("PATH", saved.c_str(), 1);
}

TEST_F(ExecRuntimeTest, LastLine) {
  const std::string path = dir_ + "/f.log";
  EXPECT_EQ(last_line(path), "");
  std::ofstream(path) << std::string(10000, 'x') << "\nsecond\n  \n\n";
  EXPECT_EQ(last_line(path), "second");
  std::ofstream(path) << "only";
  EXPECT_EQ(last_line(path), "only");
  std::ofstream(path) << std::string(500, 'y');
  EXPECT_EQ(last_line(path, 10), std::string(10, 'y'));
}

}  // namespace
}  // namespace pier::agent
