// The property the workers exist for, with real threads: heartbeats keep leaving at their period while
// a worker is held up, here in `haproxy -c` (a stand-in program that waits for the test) and in a
// health probe (a prober that waits for the test). Each waits with a deadline, so that a design in
// which the heartbeat waits on that work fails by its gaps instead of hanging.
#include "services/agent/workers.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <zmq_addon.hpp>

#include "common/codec.h"
#include "common/topics.h"
#include "services/agent/agent.h"
#include "tests/services/agent/envelope.h"
#include "tests/services/lbgen/state_builder.h"

namespace pier::agent {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int kPeriodMs = 100;
constexpr int kHeartbeatsWhileHeld = 10;
constexpr int64_t kHeldMs = 5000;  // how long the held-up work lasts at most when the test does not end it
// A heartbeat path that waited on the held-up work would leave a gap of kHeldMs; one that does not,
// gaps of about a period. Far from both, so that a loaded machine does not make the test flap.
constexpr int64_t kMaxGapMs = 2000;

using testing::envelope;

class WorkersTest : public ::testing::Test {
 protected:
  static AgentOptions options() {
    AgentOptions o;
    o.host_id = "h1";
    o.heartbeat_ms = kPeriodMs;
    return o;
  }

  void SetUp() override {
    char tmpl[] = "/tmp/pier-agent-workers-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    sink_.set(zmq::sockopt::subscribe, topic::heartbeat("h1"));
    sink_.bind("inproc://agent-pub");    // stands in for the proxy's XSUB side
    source_.bind("inproc://agent-sub");  // and its XPUB side
    publisher_ = std::make_unique<bus::Publisher>(ctx_, "inproc://agent-pub", "agent/h1", clock_);
    subscriber_ = std::make_unique<bus::Subscriber>(
        ctx_, "inproc://agent-sub", std::vector<std::string>{std::string(topic::kStateFull), topic::lb_config("h1")});
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Turns the agent's bus thread as main.cpp does until `done` holds or `timeout` passes, and keeps
  // every heartbeat that reached the sink.
  bool step_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      agent_.step(*subscriber_, *publisher_, 10);
      for (std::vector<zmq::message_t> frames;
           zmq::recv_multipart(sink_, std::back_inserter(frames), zmq::recv_flags::dontwait); frames.clear()) {
        if (frames.size() != 3) continue;
        heard_.push_back(*codec::decode<msg::HostStatus>(frames[2].to_string()));
        heard_at_.push_back(clock_.steady_ms());
      }
    }
    return true;
  }
  // Ten heartbeats leave while `step` (a worker's current step) still runs, with no long gap.
  void expect_heartbeats_while_held(const Worker& worker) {
    const int64_t step = worker.progress().busy_since();
    ASSERT_GE(step, 0) << "the " << worker.name() << " worker is not in a step";
    const std::size_t before = heard_.size();
    const int64_t gap_before = agent_.longest_heartbeat_gap_ms();
    ASSERT_TRUE(step_until([&] { return heard_.size() >= before + kHeartbeatsWhileHeld; }))
        << heard_.size() - before << " heartbeats while the " << worker.name() << " worker was held up";
    EXPECT_EQ(worker.progress().busy_since(), step) << "the held-up step ended too early for the test to judge";
    int64_t heard_gap = 0;  // as the sink heard them, while held
    for (std::size_t i = before; i < heard_at_.size(); ++i)
      heard_gap = std::max(heard_gap, heard_at_[i] - heard_at_[i == 0 ? 0 : i - 1]);
    EXPECT_LT(agent_.longest_heartbeat_gap_ms(), kMaxGapMs)
        << "longest before the step " << gap_before << " ms, heard while held " << heard_gap << " ms";
  }

  std::string dir_;
  zmq::context_t ctx_;
  zmq::socket_t sink_{ctx_, zmq::socket_type::sub};
  zmq::socket_t source_{ctx_, zmq::socket_type::pub};
  SystemClock clock_;
  Handoff handoff_;
  Agent agent_{options(), HostFacts{"h1", 2, 1 << 30}, "fake", "/nowhere/haproxy.sock", handoff_, clock_};
  std::unique_ptr<bus::Publisher> publisher_;
  std::unique_ptr<bus::Subscriber> subscriber_;
  std::vector<msg::HostStatus> heard_;
  std::vector<int64_t> heard_at_;  // steady ms each came
};

TEST_F(WorkersTest, HeartbeatsLeaveWhileHaproxyCheckRuns) {
  // `haproxy -c` says it runs, then waits (at most kHeldMs) for the test's word, then refuses.
  const std::string program = dir_ + "/haproxy";
  {
    std::ofstream script(program);
    script << "#!/bin/sh\n"
           << "[ \"$1\" = -c ] || exit 1\n"
           << "touch " << dir_ << "/checking\n"
           << "i=0; while [ ! -e " << dir_ << "/release ] && [ $i -lt " << kHeldMs / 10 << " ]; do sleep 0.01; "
           << "i=$((i+1)); done\n"
           << "echo '[ALERT] refused by the test'; exit 1\n";
  }
  ::chmod(program.c_str(), 0755);
  LbApplierOptions lb_options;
  lb_options.dir = dir_ + "/lb";
  lb_options.haproxy = program;
  LbApplier lb(lb_options, clock_);
  const auto worker = start_haproxy_worker(lb, handoff_, clock_, 20);
  agent_.watch(*worker);
  ASSERT_TRUE(step_until([&] { return !heard_.empty(); })) << "no heartbeat reached the sink";

  msg::LbConfig config;
  config.host_id = "h1";
  config.hash = "c1";
  config.haproxy_cfg = "global\n";
  ASSERT_TRUE(agent_.handle(envelope(topic::lb_config("h1"), codec::encode(config))).ok());
  ASSERT_TRUE(step_until([&] { return fs::exists(dir_ + "/checking"); })) << "haproxy -c did not start";
  expect_heartbeats_while_held(*worker);

  // Once the check answers, the refusal leaves in a heartbeat of its own, at once.
  std::ofstream(dir_ + "/release").close();
  ASSERT_TRUE(step_until([&] { return !heard_.empty() && !heard_.back().lb.error.empty(); }, 5s))
      << "no heartbeat told of the refusal";
  EXPECT_NE(heard_.back().lb.error.find("refused by the test"), std::string::npos) << heard_.back().lb.error;
}

// Starts nothing real: every start succeeds at once and nothing exits.
class StillRuntime final : public Runtime {
 public:
  std::string kind() const override { return "fake"; }
  Result<pid_t> start(const InstanceSpec& spec) override {
    running_[spec.id] = RunningInstance{spec, 4242, false};
    return 4242;
  }
  void stop(const std::string& id, int) override { running_.erase(id); }
  std::vector<InstanceExit> poll() override { return {}; }
  std::vector<RunningInstance> list() const override {
    std::vector<RunningInstance> out;
    for (const auto& [id, r] : running_) out.push_back(r);
    return out;
  }

 private:
  std::map<std::string, RunningInstance> running_;
};

// A health probe that holds the reconciler until the test releases it (or kHeldMs pass), then passes.
class HeldProber final : public Prober {
 public:
  bool accepts(const std::string&, int) override { return true; }
  std::set<std::size_t> accepting(const std::vector<Target>& targets) override {
    std::unique_lock lock(mutex_);
    probing_ = true;
    changed_.notify_all();
    changed_.wait_for(lock, std::chrono::milliseconds(kHeldMs), [&] { return released_; });
    std::set<std::size_t> all;
    for (std::size_t i = 0; i < targets.size(); ++i) all.insert(i);
    return all;
  }
  bool probing() {
    std::lock_guard lock(mutex_);
    return probing_;
  }
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool probing_ = false;
  bool released_ = false;
};

TEST_F(WorkersTest, HeartbeatsLeaveWhileAHealthProbeRuns) {
  StillRuntime runtime;
  HeldProber prober;
  Reconciler reconciler("h1", runtime, prober, clock_);
  const auto worker = start_instances_worker(reconciler, handoff_, clock_, 20);
  agent_.watch(*worker);
  ASSERT_TRUE(step_until([&] { return !heard_.empty(); })) << "no heartbeat reached the sink";

  msg::State state;
  state.revision = 1;
  state.apps = {lbgen::testing::app("web", {{80, 8000}}, "tcp")};
  state.instances = {lbgen::testing::instance("web-1", "web", "h1", "127.100.0.2", "placed")};
  ASSERT_TRUE(agent_.handle(envelope(std::string(topic::kStateFull), codec::encode(state))).ok());
  ASSERT_TRUE(step_until([&] { return prober.probing(); })) << "no health probe began";
  expect_heartbeats_while_held(*worker);

  // Once the probe answers, the instance's news leaves at once.
  prober.release();
  ASSERT_TRUE(step_until(
      [&] {
        return !heard_.empty() && !heard_.back().instances.empty() && heard_.back().instances[0].state == "running";
      },
      5s));
}

}  // namespace
}  // namespace pier::agent
