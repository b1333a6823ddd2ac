// The property the workers exist for, with real threads: heartbeats keep leaving at their period while
// work is slow, here `haproxy -c` (a stand-in program that waits for the test), a HAProxy that takes
// 5 s to load, and a health probe (a prober that waits for the test). Each waits with a deadline, so
// that a design in which the heartbeat waits on that work fails by its gaps instead of hanging.
#include "services/agent/workers.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <zmq_addon.hpp>

#include "common/codec.h"
#include "common/files.h"
#include "common/lb_render.h"
#include "common/topics.h"
#include "services/agent/agent.h"
#include "tests/services/agent/envelope.h"
#include "tests/services/lbgen/state_builder.h"
#include "tests/support/temp_dir.h"

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
    sink_.set(zmq::sockopt::subscribe, topic::heartbeat("h1"));
    sink_.bind("inproc://agent-pub");    // stands in for the proxy's XSUB side
    source_.bind("inproc://agent-sub");  // and its XPUB side
    publisher_ = std::make_unique<bus::Publisher>(ctx_, "inproc://agent-pub", "agent/h1", clock_);
    subscriber_ = std::make_unique<bus::Subscriber>(
        ctx_, "inproc://agent-sub", std::vector<std::string>{std::string(topic::kStateFull), topic::lb_config("h1")});
  }

  // An LbApplier of this test's folder that runs `haproxy` (a stand-in).
  LbApplierOptions lb_options(const std::string& haproxy) const {
    LbApplierOptions o;
    o.dir = dir_ + "/lb";
    o.haproxy = haproxy;
    return o;
  }
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

  pier::testing::TempDir temp_{"pier-agent-workers-"};
  std::string dir_ = temp_.path();
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

// A stand-in for haproxy at dir/haproxy. `-c` runs `check` (sh); anything else is a master that runs
// `load` and then stays up until it is stopped.
std::string fake_haproxy(const std::string& dir, const std::string& check, const std::string& load) {
  const std::string program = dir + "/haproxy";
  {
    std::ofstream script(program);
    script << "#!/bin/sh\n"
           << "if [ \"$1\" = -c ]; then " << check << "; fi\n"
           << load << "\n"
           << "exec sleep 60\n";
  }
  ::chmod(program.c_str(), 0755);
  return program;
}

msg::LbConfig lb_config(const std::string& hash) {
  msg::LbConfig config;
  config.host_id = "h1";
  config.hash = hash;
  config.haproxy_cfg = "global\n";
  return config;
}

// How long the haproxy worker has been in its current step (0 between steps).
int64_t held_ms(const Worker& worker, const Clock& clock) {
  const int64_t since = worker.progress().busy_since();
  return since < 0 ? 0 : clock.steady_ms() - since;
}

TEST_F(WorkersTest, TheHaproxyWorkerRendersTheFleetsSpecAndSaysWhyATemplateFails) {
  const std::string program = fake_haproxy(dir_, "exit 0", "echo '[NOTICE] Loading success.'");
  LbApplier lb(lb_options(program), clock_);
  const auto worker = start_haproxy_worker(lb, handoff_, clock_, 20);
  LbOrder order;
  order.config.host_id = "h1";
  order.config.state_revision = 4;
  order.config.spec.host_id = "h1";
  order.config.spec.bind_address = "127.0.0.9";
  order.config.spec.backends = {{"app_web_8000", "web", "http", "roundrobin", {{"web-1", "10.1.0.2", 8000}}}};
  order.template_text = "global\n# {{host_id}} on {{bind_address}}{{#backends}} {{name}}{{/backends}}\n";
  handoff_.lb_config.put(order);
  const std::string wanted = "global\n# h1 on 127.0.0.9 app_web_8000\n";
  ASSERT_TRUE(step_until([&] { return handoff_.lb.get().hash == lb::config_hash(wanted); }))
      << "the rendered config never ran: " << handoff_.lb.get().error;
  EXPECT_EQ(files::read_text(lb.config_path()), wanted);
  EXPECT_EQ(handoff_.lb.get().state_revision, 4);

  order.template_text = "{{#backends}} unclosed\n";
  handoff_.lb_config.put(order);
  ASSERT_TRUE(step_until([&] { return !handoff_.lb.get().error.empty(); }));
  EXPECT_NE(handoff_.lb.get().error.find("template"), std::string::npos) << handoff_.lb.get().error;
  EXPECT_EQ(handoff_.lb.get().hash, lb::config_hash(wanted)) << "what runs keeps running";
  worker->stop();
  lb.stop();
}

TEST_F(WorkersTest, HeartbeatsLeaveWhileHaproxyCheckRuns) {
  // `haproxy -c` says it runs, then waits (at most kHeldMs) for the test's word, then refuses.
  const std::string program =
      fake_haproxy(dir_,
                   "touch " + dir_ + "/checking; i=0; while [ ! -e " + dir_ + "/release ] && [ $i -lt " +
                       std::to_string(kHeldMs / 10) +
                       " ]; do sleep 0.01; i=$((i+1)); done; echo '[ALERT] refused by the test'; exit 1",
                   "exit 1");
  LbApplier lb(lb_options(program), clock_);
  const auto worker = start_haproxy_worker(lb, handoff_, clock_, 20);
  agent_.watch(*worker);
  ASSERT_TRUE(step_until([&] { return !heard_.empty(); })) << "no heartbeat reached the sink";

  ASSERT_TRUE(agent_.handle(envelope(topic::lb_config("h1"), codec::encode(lb_config("c1")))).ok());
  ASSERT_TRUE(step_until([&] { return fs::exists(dir_ + "/checking"); })) << "haproxy -c did not start";
  // The check is a state of the haproxy worker, not a wait in it: its steps stay short meanwhile.
  const std::size_t before = heard_.size();
  int64_t longest_step = 0;
  ASSERT_TRUE(step_until([&] {
    longest_step = std::max(longest_step, held_ms(*worker, clock_));
    return heard_.size() >= before + kHeartbeatsWhileHeld;
  })) << heard_.size() - before
      << " heartbeats while haproxy -c ran";
  EXPECT_FALSE(fs::exists(dir_ + "/release")) << "the check ended too early for the test to judge";
  EXPECT_LT(longest_step, kMaxGapMs / 4) << "the haproxy worker waited on the check";
  EXPECT_LT(agent_.longest_heartbeat_gap_ms(), kMaxGapMs);

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

// A probe that never passes (the instance stays starting, so every tick probes it again), counted.
class CountingProber final : public Prober {
 public:
  bool accepts(const std::string&, int) override { return false; }
  std::set<std::size_t> accepting(const std::vector<Target>&) override {
    ++probes_;
    return {};
  }
  int probes() const { return probes_.load(); }

 private:
  std::atomic<int> probes_{0};
};

// The acceptance of issue 15: a HAProxy that takes 5 s to load its config holds up nothing. Heartbeats
// leave at their period (far more often than every second), the instances worker goes on probing, and
// the haproxy worker's own steps stay short; the new config is reported once the load ended.
TEST_F(WorkersTest, HeartbeatsAndProbesGoOnWhileHaproxyTakesFiveSecondsToLoad) {
  const std::string program =
      fake_haproxy(dir_, "exit 0", "touch " + dir_ + "/loading; sleep 5; echo '[NOTICE] Loading success.'");
  LbApplier lb(lb_options(program), clock_);
  const auto haproxy = start_haproxy_worker(lb, handoff_, clock_, 20);
  agent_.watch(*haproxy);
  StillRuntime runtime;
  CountingProber prober;
  Reconciler reconciler("h1", runtime, prober, clock_);
  const auto instances = start_instances_worker(reconciler, handoff_, clock_, 20);
  agent_.watch(*instances);
  msg::State state;
  state.revision = 1;
  state.apps = {lbgen::testing::app("web", {{80, 8000}}, "tcp")};
  state.instances = {lbgen::testing::instance("web-1", "web", "h1", "127.100.0.2", "placed")};
  ASSERT_TRUE(agent_.handle(envelope(std::string(topic::kStateFull), codec::encode(state))).ok());
  ASSERT_TRUE(step_until([&] { return !heard_.empty() && prober.probes() > 0; })) << "no heartbeat, no probe";

  ASSERT_TRUE(agent_.handle(envelope(topic::lb_config("h1"), codec::encode(lb_config("c1")))).ok());
  ASSERT_TRUE(step_until([&] { return fs::exists(dir_ + "/loading"); })) << "haproxy did not begin to load";
  const int64_t began = clock_.steady_ms();
  const std::size_t heartbeats_before = heard_.size();
  const int probes_before = prober.probes();
  int64_t longest_step = 0;
  ASSERT_TRUE(step_until(
      [&] {
        longest_step = std::max(longest_step, held_ms(*haproxy, clock_));
        return !heard_.empty() && heard_.back().lb.hash == "c1";
      },
      15s))
      << "the load's end was never reported";
  const int64_t took = clock_.steady_ms() - began;
  const auto heartbeats = static_cast<int64_t>(heard_.size() - heartbeats_before);
  int64_t gap = 0;
  for (std::size_t i = heartbeats_before + 1; i < heard_at_.size(); ++i)
    gap = std::max(gap, heard_at_[i] - heard_at_[i - 1]);
  RecordProperty("load_ms", std::to_string(took));
  RecordProperty("heartbeats", std::to_string(heartbeats));
  RecordProperty("longest_gap_ms", std::to_string(gap));
  RecordProperty("probes", std::to_string(prober.probes() - probes_before));
  EXPECT_GE(took, 4500) << "the stand-in loads for 5 s";
  EXPECT_GE(heartbeats, took / 1000) << "fewer than one heartbeat a second";
  EXPECT_LT(gap, 1000) << "a second without a heartbeat";
  EXPECT_GE(prober.probes() - probes_before, 10) << "the instances worker stopped probing";
  EXPECT_LT(longest_step, 500) << "the haproxy worker waited on the load";
  std::cout << "load " << took << " ms: " << heartbeats << " heartbeats (longest gap " << gap << " ms), "
            << prober.probes() - probes_before << " probes, longest haproxy step " << longest_step << " ms\n";
  haproxy->stop();
  lb.stop();
}

}  // namespace
}  // namespace pier::agent
