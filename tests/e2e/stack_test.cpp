// The whole pipeline on one machine: pier CLI -> bus -> registry -> scheduler -> agent (exec runtime)
// -> lbgen -> real HAProxy -> demo app instances. Ports come from the OS; state lives in a temp dir.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <map>
#include <set>
#include <thread>
#include <zmq.hpp>

#include "common/codec.h"
#include "common/keys.h"
#include "common/process.h"
#include "common/topics.h"
#include "common/version.h"
#include "tests/e2e/harness.h"
#include "tests/support/hostile_values.h"

namespace pier::e2e {
namespace {

using namespace std::chrono_literals;

class StackTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stack_ = new Stack();
    ASSERT_TRUE(wait_until(
        [] {
          auto h = stack_->hosts();
          return h.is_array() && h.size() == 1;
        },
        30s))
        << "the agent never registered\n"
        << stack_->log("agent") << stack_->log("registry");
  }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
  }
  static Stack* stack_;
};
Stack* StackTest::stack_ = nullptr;

TEST_F(StackTest, DeployScaleShareRemoveAndSurviveARegistryRestart) {
  Stack& s = *stack_;
  const int web_port = free_port();

  // Deploy 3 replicas: 60 requests through HAProxy reach all 3.
  auto deployed = s.pier(deploy_args("web", web_port, 3));
  ASSERT_EQ(deployed.exit_code, 0) << deployed.output << deployed.error << s.log("agent");
  auto seen = answers(web_port, "/", 60);
  EXPECT_EQ(distinct(seen), not_draining(s.ps(), "web"));
  EXPECT_EQ(distinct(seen).size(), 3u) << "answers: " << ::testing::PrintToString(seen);

  // Scale to 5: all 5 answer. Scale to 1: only that one answers.
  auto scaled = s.pier({"scale", "web", "5", "--timeout", "60"});
  ASSERT_EQ(scaled.exit_code, 0) << scaled.output << scaled.error;
  seen = answers(web_port, "/", 100);
  EXPECT_EQ(distinct(seen).size(), 5u) << ::testing::PrintToString(seen);
  EXPECT_EQ(distinct(seen), not_draining(s.ps(), "web"));
  scaled = s.pier({"scale", "web", "1", "--timeout", "60"});
  ASSERT_EQ(scaled.exit_code, 0) << scaled.output << scaled.error;
  seen = answers(web_port, "/", 20);
  EXPECT_EQ(distinct(seen).size(), 1u) << ::testing::PrintToString(seen);
  EXPECT_EQ(distinct(seen), not_draining(s.ps(), "web"));

  // A second app on the same port under /api.
  auto api = s.pier(deploy_args("api", web_port, 2, "/api"));
  ASSERT_EQ(api.exit_code, 0) << api.output << api.error;
  const auto api_ids = instance_ids(s.ps(), "api");
  EXPECT_EQ(distinct(answers(web_port, "/api/users", 20)), api_ids);
  EXPECT_EQ(distinct(answers(web_port, "/api", 10)), api_ids);
  EXPECT_EQ(distinct(answers(web_port, "/", 10)), not_draining(s.ps(), "web"));
  EXPECT_EQ(distinct(answers(web_port, "/apiary", 10)), not_draining(s.ps(), "web")) << "/apiary is not under /api";

  // A TCP app echoes through its own port.
  const int echo_port = free_port();
  auto echo = s.pier({"deploy", "--name", "echo", "--image", "pier/demo-app", "--tag", kVersion, "--command",
                      "pier-demo-app --mode tcp", "--port", std::to_string(echo_port) + ":7000", "--protocol", "tcp",
                      "--replicas", "2", "--timeout", "60"});
  ASSERT_EQ(echo.exit_code, 0) << echo.output << echo.error;
  EXPECT_EQ(tcp_echo(echo_port, "hello through haproxy\n"), std::optional<std::string>("hello through haproxy\n"));

  // rm: the app's port no longer answers; the others still do.
  auto removed = s.pier({"rm", "echo", "--timeout", "60"});
  ASSERT_EQ(removed.exit_code, 0) << removed.output << removed.error;
  EXPECT_TRUE(wait_until([&] { return !tcp_echo(echo_port, "x").has_value(); }, 10s));
  EXPECT_EQ(instance_ids(s.ps(), "echo").size(), 0u);
  EXPECT_EQ(distinct(answers(web_port, "/", 5)), not_draining(s.ps(), "web"));

  // Kill the registry: pier dev restarts it; ps shows the same apps and instances; deploy still works.
  const auto before = s.ps();
  ASSERT_TRUE(before.is_array());
  const pid_t registry = s.child_pid("registry");
  ASSERT_GT(registry, 0);
  ASSERT_EQ(::kill(registry, SIGKILL), 0);
  ASSERT_TRUE(wait_until(
      [&] {
        auto p = s.child_pid("registry");
        return p > 0 && p != registry;
      },
      15s));
  nlohmann::json after;
  ASSERT_TRUE(wait_until(
      [&] {
        after = s.ps();
        return after.is_array();
      },
      20s));
  EXPECT_EQ(instance_ids(after, "web"), instance_ids(before, "web"));
  EXPECT_EQ(instance_ids(after, "api"), instance_ids(before, "api"));
  const int late_port = free_port();
  auto late = s.pier(deploy_args("late", late_port, 1));
  ASSERT_EQ(late.exit_code, 0) << late.output << late.error;
  EXPECT_EQ(distinct(answers(late_port, "/", 5)), instance_ids(s.ps(), "late"));
}

TEST_F(StackTest, BadInputIsRefusedWithTheFieldNamedAndChangesNothing) {
  Stack& s = *stack_;
  const auto before = s.ps();
  ASSERT_TRUE(before.is_array());
  struct Case {
    std::vector<std::string> flags;
    std::string field;
  };
  const std::vector<Case> cases = {
      {{"--name", "a;b"}, "name"},
      {{"--name", std::string(64, 'a')}, "name"},
      {{"--port", "0:8000"}, "port"},
      {{"--port", "70000:8000"}, "port"},
      {{"--protocol", "udp"}, "protocol"},
      {{"--context-path", "/a b"}, "context_path"},
      {{"--context-path", "/a\nb"}, "context_path"},
      {{"--context-path", "/a#b"}, "context_path"},
      {{"--replicas", "-1"}, "replicas"},
      {{"--memory", "lots"}, "memory"},
      {{"--env", "A\nB=1"}, "env"},
      {{"--env", "FOO=a\nb"}, "env"},
      {{"--image", "pier/demo app"}, "image"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = {"deploy",
                                     "--name",
                                     "badapp",
                                     "--image",
                                     "pier/demo-app",
                                     "--tag",
                                     "1",
                                     "--command",
                                     "pier-demo-app",
                                     "--port",
                                     std::to_string(free_port()) + ":8000",
                                     "--detach"};
    args.insert(args.end(), c.flags.begin(), c.flags.end());  // later flags override earlier ones
    auto r = s.pier(args, 30);
    EXPECT_NE(r.exit_code, 0) << ::testing::PrintToString(c.flags) << r.output;
    EXPECT_NE(r.error.find(c.field), std::string::npos) << "stderr should name " << c.field << ": " << r.error;
  }
  EXPECT_EQ(s.ps(), before);
  // Refused by the registry too (not only by the CLI): scale to -1, unknown app.
  auto r = s.pier({"scale", "nope", "2"}, 30);
  EXPECT_EQ(r.exit_code, 2) << r.error;
  EXPECT_NE(r.error.find("app"), std::string::npos);
  EXPECT_EQ(s.ps(), before);
}

// Issue 14's hostile corpus straight onto pier dev's bus, as an operator key would publish it with no
// CLI in front: through the real pier-bus and pier-registry, every deploy is refused with a reply that
// names the field, and what runs (ps, the agent's haproxy.cfg) is byte for byte what it was.
TEST_F(StackTest, HostileValuesOnTheRawBusAreRefusedNamingTheFieldAndNothingChanges) {
  Stack& s = *stack_;
  const int port = free_port();
  auto deployed = s.pier(deploy_args("steady", port, 1));
  ASSERT_EQ(deployed.exit_code, 0) << deployed.output << deployed.error;
  const std::string cfg_path = s.state_dir() + "/agent/haproxy/haproxy.cfg";
  ASSERT_TRUE(wait_until([&] { return read_file(cfg_path).find("backend app_steady_8000") != std::string::npos; }, 30s))
      << read_file(cfg_path);
  const auto before = s.ps();
  const std::string cfg_before = read_file(cfg_path);

  zmq::context_t context;
  SystemClock clock;
  bus::Publisher publisher(context, s.bus_endpoints(), "cli-hostile", clock);
  bus::Subscriber replies(context, s.bus_endpoints(), {topic::reply_to("cli-hostile")});
  int request = 0;
  // The registry's reply to `body` on cmd.deploy, published again every second (a subscription that has
  // not reached the bus yet loses the first) for at most 10 s.
  auto deploy = [&](const std::string& body) -> std::optional<msg::Reply> {
    const std::string id = "hostile-" + std::to_string(++request);
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      publisher.publish_encoded(topic::kDeploy, body, id);
      const auto resend = std::chrono::steady_clock::now() + 1s;
      while (std::chrono::steady_clock::now() < resend)
        if (auto e = replies.receive(50)) {
          auto reply = codec::decode<msg::Reply>(e->body);
          if (reply.ok() && reply->request_id == id) return *reply;
        }
    }
    return std::nullopt;
  };
  int refused = 0;
  for (const auto& field : test::app_spec_fields())
    for (const auto& hostile : test::hostile_values())
      for (const auto& value : test::tries(field, hostile)) {
        if (!test::must_refuse(field, hostile, value)) continue;
        msg::AppSpec spec;
        spec.name = "hostile";
        spec.image = "pier/demo-app";
        spec.tag = kVersion;
        spec.command = {"pier-demo-app"};
        spec.ports = {{free_port(), 8000}};
        spec.context_path = "/hostile";
        field.set(spec, value);
        const auto reply = deploy(codec::encode(msg::DeployCommand{spec}));
        ASSERT_TRUE(reply.has_value()) << "no reply to " << field.name << " = " << hostile.what;
        EXPECT_FALSE(reply->ok) << field.name << " accepted " << hostile.what;
        EXPECT_EQ(reply->field, field.name) << hostile.what << ": " << reply->message;
        refused += !reply->ok;
      }
  EXPECT_GT(refused, 400);
  // A body that does not decode still gets a refusal naming the field (its header decodes).
  const auto lots =
      deploy(std::string("\x81\xa3"
                         "app"
                         "\x81\xacmemory_bytes\xa4lots"));
  ASSERT_TRUE(lots.has_value());
  EXPECT_FALSE(lots->ok);
  EXPECT_EQ(lots->field, "app.memory_bytes") << lots->message;

  EXPECT_EQ(s.ps(), before);
  EXPECT_EQ(read_file(cfg_path), cfg_before);
  auto removed = s.pier({"rm", "steady"});
  EXPECT_EQ(removed.exit_code, 0) << removed.error;
}

TEST_F(StackTest, GarbageOnTheBusIsDroppedAndEveryServiceKeepsRunning) {
  Stack& s = *stack_;
  std::map<std::string, pid_t> pids;
  for (const char* name : {"bus", "registry", "scheduler", "lbgen", "metrics", "agent"}) pids[name] = s.child_pid(name);
  {
    // On pier dev's CURVE bus each topic's garbage comes from a key whose role may publish it (the bus
    // refuses the rest before any service sees it: tests/e2e/security_test.cpp).
    const std::string keys_dir = s.dev_env("PIER_KEYS_DIR");
    std::string agent_key = "x";
    for (const auto& entry : std::filesystem::directory_iterator(keys_dir))
      if (entry.path().extension() == ".pub" && keys::purpose_of(entry.path().string()) == "agent")
        agent_key = entry.path().stem().string();
    zmq::context_t context;
    std::map<std::string, zmq::socket_t> pubs;
    auto pub_as = [&](const std::string& key) -> zmq::socket_t& {
      auto it = pubs.find(key);
      if (it != pubs.end()) return it->second;
      zmq::socket_t pub(context, zmq::socket_type::pub);
      auto pair = keys::read_secret_file(keys_dir + "/" + key + ".key");
      if (pair.ok())
        bus::set_curve(
            pub, bus::CurveKeys{pair->public_key, pair->secret_key, *keys::read_public_key(keys_dir + "/bus.pub")});
      pub.connect(std::string(s.bus_pub()));
      return pubs.emplace(key, std::move(pub)).first->second;
    };
    const std::vector<std::pair<std::string, std::vector<std::string>>> garbage = {
        {"operator", {"cmd.deploy"}},
        {"operator", {"cmd.deploy", "\xc1", "x"}},
        {"operator", {"cmd.scale", "\x80", "\xdf\xff\xff\xff\xff"}},
        {"registry", {"state.full", "\x80", "\x91\x91\x91"}},
        {agent_key, {"agent.heartbeat." + agent_key, "\x80", "garbage"}},
        {agent_key, {"agent.sample." + agent_key, "\x80", "\xc1\xc1"}},
        {"lbgen", {"lb.config.x", "\x80", "\x01"}}};
    for (const auto& [key, frames] : garbage) pub_as(key);
    std::this_thread::sleep_for(
        300ms);  // let the subscriptions reach these publishers (not a sync point for the assertion)
    for (int round = 0; round < 20; ++round)
      for (const auto& [key, frames] : garbage)
        for (std::size_t i = 0; i < frames.size(); ++i)
          pub_as(key).send(zmq::buffer(frames[i]),
                           i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
  // Everything still answers and no process was replaced.
  EXPECT_TRUE(s.ps().is_array());
  for (const auto& [name, pid] : pids) {
    EXPECT_EQ(s.child_pid(name), pid) << name << " was restarted";
    EXPECT_TRUE(process::exists(pid)) << name;
  }
  EXPECT_NE(s.log("registry").find("dropped malformed message"), std::string::npos);
}

}  // namespace
}  // namespace pier::e2e

namespace pier::e2e {
namespace {

// `pier dev --demo`, then requests to the URL it prints: the 3 demo instances answer in turn.
TEST(DevDemo, DemoAnswersFromThreeInstancesInTurn) {
  const int demo_port = free_port();
  Stack s({"--demo", "--demo-port", std::to_string(demo_port)});
  std::string url;
  ASSERT_TRUE(wait_until([&] { return !(url = s.dev_env("PIER_DEMO_URL")).empty(); }, 90s))
      << "pier dev --demo never reported the demo URL\n"
      << s.dev_output();
  EXPECT_EQ(url, "http://127.0.0.1:" + std::to_string(demo_port) + "/");
  EXPECT_NE(s.dev_output().find(url), std::string::npos) << "the URL is printed for the user";
  std::vector<std::string> order;
  for (int i = 0; i < 6; ++i) {
    auto answer = http_get(demo_port, "/");
    ASSERT_TRUE(answer.has_value());
    ASSERT_EQ(answer->status, 200);
    auto start = answer->body.find("instance=") + 9;
    order.push_back(answer->body.substr(start, answer->body.find(' ', start) - start));
  }
  // Round robin: three distinct instances, then the same three again in the same order.
  EXPECT_EQ(std::set<std::string>(order.begin(), order.begin() + 3).size(), 3u) << ::testing::PrintToString(order);
  EXPECT_EQ(std::vector<std::string>(order.begin(), order.begin() + 3),
            std::vector<std::string>(order.begin() + 3, order.end()));
}

}  // namespace
}  // namespace pier::e2e
