// The docker runtime against a real dockerd: `pier dev --runtime docker` places the demo image's
// containers on the host's pier network, HAProxy follows scaling, a killed agent leaves them serving
// and adopts them, and a container removed behind pier's back is replaced.
//
// Needs a daemon on /var/run/docker.sock and the image pier/demo-app:<version> (scripts/test.sh starts
// the one and builds the other). Without them the tests are skipped, unless PIER_REQUIRE_DOCKER is set
// (CI sets it): then they fail.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <random>
#include <thread>

#include "common/net.h"
#include "common/version.h"
#include "services/agent/docker_engine.h"
#include "tests/e2e/harness.h"

namespace pier::e2e {
namespace {

using namespace std::chrono_literals;

const std::string kImage = "pier/demo-app";

// "pier.host=<host>" containers: instance id -> container summary.
std::map<std::string, agent::ContainerSummary> containers(const agent::DockerEngine& engine, const std::string& host) {
  std::map<std::string, agent::ContainerSummary> out;
  auto listed = engine.list_containers("pier.host=" + host);
  if (!listed.ok()) return out;
  for (auto& c : *listed)
    if (c.state == "running") out[c.labels["pier.instance"]] = c;
  return out;
}

std::set<std::string> keys(const std::map<std::string, agent::ContainerSummary>& m) {
  std::set<std::string> out;
  for (const auto& [k, v] : m) out.insert(k);
  return out;
}

class DockerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const bool required = std::getenv("PIER_REQUIRE_DOCKER") != nullptr;
    if (Status s = engine_.ping(); !s.ok()) {
      if (required) FAIL() << "no docker daemon: " << s.message();
      GTEST_SKIP() << "no docker daemon: " << s.message();
    }
    auto image = engine_.image_exists(kImage + ":" + kVersion);
    if (!image.ok() || !*image) {
      if (required) FAIL() << kImage << ":" << kVersion << " is missing: run scripts/images.sh";
      GTEST_SKIP() << kImage << ":" << kVersion << " is missing: run scripts/images.sh";
    }
    std::random_device seed;
    host_ = "e2e-docker-" + std::to_string(seed() % 100000);
    // A /16 of 10.0.0.0/8 of its own (10.100-10.199), clear of the registry's default 10.213.0.0/16.
    const std::string network = "10." + std::to_string(100 + seed() % 100) + ".0.0/16";
    stack_ = std::make_unique<Stack>(
        std::vector<std::string>{"--runtime", "docker", "--host-id", host_, "--docker-network", network});
    ASSERT_TRUE(wait_until(
        [&] {
          auto h = stack_->hosts();
          return h.is_array() && h.size() == 1;
        },
        30s))
        << "the agent never registered\n"
        << stack_->log("agent");
    subnet_ = stack_->hosts()[0].value("subnet", "");
  }
  void TearDown() override {
    stack_.reset();  // pier dev stops the agent first, which stops its containers
    if (!host_.empty()) {
      auto left = engine_.list_containers("pier.host=" + host_);
      if (left.ok())
        for (const auto& c : *left) engine_.remove_container(c.id);
      engine_.request("DELETE", "/networks/pier-" + host_);
    }
  }

  std::vector<std::string> deploy(const std::string& name, int port, int replicas) const {
    return {"deploy",
            "--name",
            name,
            "--image",
            kImage,
            "--tag",
            kVersion,
            "--port",
            std::to_string(port) + ":8000",
            "--replicas",
            std::to_string(replicas),
            "--cpu",
            "0.5",
            "--memory",
            "64m",
            "--env",
            "FOO=bar",
            "--timeout",
            "90"};
  }

  agent::DockerEngine engine_;
  std::unique_ptr<Stack> stack_;
  std::string host_;
  std::string subnet_;
};

TEST_F(DockerTest, ContainersCarryTheSpecAndTheLbFollowsScaling) {
  Stack& s = *stack_;
  const int port = free_port();
  auto deployed = s.pier(deploy("web", port, 3));
  ASSERT_EQ(deployed.exit_code, 0) << deployed.output << deployed.error << s.log("agent");

  auto running = containers(engine_, host_);
  ASSERT_EQ(running.size(), 3u);
  auto subnet = net::parse_cidr(subnet_);
  ASSERT_TRUE(subnet.ok()) << subnet_;
  for (const auto& [instance, c] : running) {
    auto inspected = engine_.inspect_container(c.id);
    ASSERT_TRUE(inspected.ok()) << inspected.status().message();
    const auto& j = *inspected;
    EXPECT_EQ(j["HostConfig"]["NanoCpus"], 500'000'000) << instance;
    EXPECT_EQ(j["HostConfig"]["Memory"], 64LL << 20) << instance;
    const auto& env = j["Config"]["Env"];
    EXPECT_NE(std::find(env.begin(), env.end(), "FOO=bar"), env.end()) << instance;
    EXPECT_EQ(j["Config"]["Labels"]["pier.app"], "web");
    EXPECT_EQ(j["Config"]["Labels"]["pier.instance"], instance);
    const std::string ip = j["NetworkSettings"]["Networks"]["pier-" + host_].value("IPAddress", "");
    auto address = net::parse_ipv4(ip);
    ASSERT_TRUE(address.ok()) << instance << " has no address on pier-" << host_;
    EXPECT_TRUE(subnet->contains(*address)) << ip << " is not in " << subnet_;
  }

  EXPECT_EQ(distinct(answers(port, "/", 60)), keys(running));

  for (int replicas : {6, 2}) {
    auto scaled = s.pier({"scale", "web", std::to_string(replicas), "--timeout", "90"});
    ASSERT_EQ(scaled.exit_code, 0) << scaled.output << scaled.error;
    // Live means served by exactly the wanted instances; containers left over stop within their grace.
    EXPECT_TRUE(wait_until([&] { return (running = containers(engine_, host_)).size() == size_t(replicas); }, 15s))
        << running.size() << " containers run, " << replicas << " wanted";
    EXPECT_EQ(distinct(answers(port, "/", 20 * replicas)), keys(running)) << "scaled to " << replicas;
  }
}

TEST_F(DockerTest, KilledAgentLeavesContainersServingAndAdoptsThemAndRemovedOnesAreReplaced) {
  Stack& s = *stack_;
  const int port = free_port();
  auto deployed = s.pier(deploy("web", port, 3));
  ASSERT_EQ(deployed.exit_code, 0) << deployed.output << deployed.error << s.log("agent");
  const auto before = containers(engine_, host_);
  ASSERT_EQ(before.size(), 3u);

  // Kill the agent: requests keep being answered while it is away; pier dev starts it again and the
  // new agent adopts the same containers, restarting none.
  const pid_t agent = s.child_pid("agent");
  ASSERT_GT(agent, 0);
  ASSERT_EQ(::kill(agent, SIGKILL), 0);
  EXPECT_EQ(distinct(answers(port, "/", 30)), keys(before)) << "served while the agent was away";
  ASSERT_TRUE(wait_until(
      [&] {
        auto p = s.child_pid("agent");
        return p > 0 && p != agent;
      },
      15s));
  ASSERT_TRUE(wait_until([&] { return s.log("agent").find("3 adopted instances") != std::string::npos; }, 15s))
      << s.log("agent");
  std::this_thread::sleep_for(3s);  // let the new agent reconcile; nothing may change
  const auto after = containers(engine_, host_);
  ASSERT_EQ(keys(after), keys(before));
  for (const auto& [instance, c] : before) EXPECT_EQ(after.at(instance).id, c.id) << instance << " was restarted";
  EXPECT_EQ(distinct(answers(port, "/", 30)), keys(before));

  // Remove a container behind pier's back: a new one serves within 5 s.
  const auto victim = before.begin();
  ASSERT_TRUE(engine_.remove_container(victim->second.id).ok());
  const auto removed_at = std::chrono::steady_clock::now();
  std::string replacement;
  ASSERT_TRUE(wait_until(
      [&] {
        auto now = containers(engine_, host_);
        auto it = now.find(victim->first);
        if (it == now.end() || it->second.id == victim->second.id) return false;
        replacement = it->second.id;
        return answers(port, "/", 6).count(victim->first) > 0;
      },
      10s))
      << s.log("agent");
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - removed_at);
  EXPECT_LE(took.count(), 5000) << "replacement served after " << took.count() << " ms";
  RecordProperty("replacement_serving_ms", static_cast<int>(took.count()));
  std::cout << "removed container's replacement serving after " << took.count() << " ms\n";
  EXPECT_EQ(distinct(answers(port, "/", 30)), keys(before));
}

TEST_F(DockerTest, ImageThatCannotBePulledFailsWithTheDaemonsReasonAndDisturbsNothing) {
  Stack& s = *stack_;
  const int web_port = free_port();
  auto web = s.pier(deploy("web", web_port, 2));
  ASSERT_EQ(web.exit_code, 0) << web.output << web.error;
  const auto before = containers(engine_, host_);

  auto ghost = s.pier({"deploy", "--name", "ghost", "--image", "pier/no-such-image", "--tag", "1", "--port",
                       std::to_string(free_port()) + ":8000", "--timeout", "45"});
  EXPECT_NE(ghost.exit_code, 0) << ghost.output;
  EXPECT_NE(ghost.error.find("failed"), std::string::npos) << ghost.error;
  nlohmann::json ps;
  ASSERT_TRUE(wait_until(
      [&] {
        ps = s.ps();
        if (!ps.is_array()) return false;
        for (const auto& i : ps)
          if (i.value("app", "") == "ghost" && i.value("state", "") == "failed") return true;
        return false;
      },
      60s))
      << ps.dump() << s.log("agent");
  for (const auto& i : ps) {
    if (i.value("app", "") == "ghost") {
      EXPECT_NE(i.value("reason", "").find("pier/no-such-image"), std::string::npos) << i.dump();
    }
  }
  const auto after = containers(engine_, host_);
  EXPECT_EQ(keys(after), keys(before));
  for (const auto& [instance, c] : before) EXPECT_EQ(after.at(instance).id, c.id);
  EXPECT_EQ(distinct(answers(web_port, "/", 20)), keys(before));
}

}  // namespace
}  // namespace pier::e2e
