#include "cli/dev.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "cli/keys.h"
#include "common/validate.h"
#include "tests/support/temp_dir.h"

namespace pier::cli {
namespace {

TEST(Dev, DefaultStateDir) {
  EXPECT_EQ(default_state_dir(true, nullptr, "/root"), "/var/lib/pier/dev");
  EXPECT_EQ(default_state_dir(false, nullptr, "/home/ann"), "/home/ann/.local/state/pier/dev");
  EXPECT_EQ(default_state_dir(false, "/xdg", "/home/ann"), "/xdg/pier/dev");
}

TEST(Dev, HostIdIsADnsLabel) {
  EXPECT_EQ(host_id_from("Build-01.example.com"), "build-01");
  EXPECT_EQ(host_id_from("under_score"), "local");
  EXPECT_EQ(host_id_from(""), "local");
}

TEST(Dev, ChildrenInStartOrderWithTheirFlags) {
  DevOptions o;
  o.state_dir = "/s";
  o.bus = {"tcp://127.0.0.1:1", "tcp://127.0.0.1:2", std::nullopt};
  o.stats_port = 9999;
  auto children = dev_children(o, "/nonexistent-bin", "h");
  std::vector<std::string> names;
  for (const auto& c : children) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"bus", "registry", "scheduler", "lbgen", "metrics", "agent"}));
  EXPECT_EQ(children[0].argv[0], "pier-bus");  // not beside pier: from PATH
  const auto& agent = children.back().argv;
  auto has = [&](const std::string& flag, const std::string& value) {
    for (std::size_t i = 0; i + 1 < agent.size(); ++i)
      if (agent[i] == flag && agent[i + 1] == value) return true;
    return false;
  };
  EXPECT_TRUE(has("--runtime", "exec"));
  EXPECT_TRUE(has("--host-id", "h"));
  EXPECT_TRUE(has("--stats-port", "9999"));
  EXPECT_TRUE(has("--bus-sub", "tcp://127.0.0.1:2"));
  EXPECT_TRUE(has("--curve-secret", "/s/keys/h.key"));  // the agent's key is named after its host
  EXPECT_TRUE(has("--bus-public-key", "/s/keys/bus.pub"));
  const auto& bus = children.front().argv;
  EXPECT_NE(std::find(bus.begin(), bus.end(), "/s/keys/allow"), bus.end());
  o.insecure_bus = true;
  const auto plain = dev_children(o, "/nonexistent-bin", "h");
  for (const auto& c : plain)
    EXPECT_EQ(std::find(c.argv.begin(), c.argv.end(), "--curve-secret"), c.argv.end()) << c.name;
}

TEST(Dev, KeysAreMadeOnceAndAllowed) {
  const testing::TempDir temp("pier-dev-keys-");
  const std::string dir = temp.path() + "/keys";
  ASSERT_TRUE(ensure_dev_keys(dir, dev_key_names("h")).ok());
  const auto first = keys::Allowlist::read_file(dir + "/allow");
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(first->keys().size(), 6u);
  EXPECT_EQ(first->find_name("h")->role, keys::Role::agent);
  EXPECT_EQ(first->find_name("operator")->role, keys::Role::operator_);
  EXPECT_EQ(first->find_name("bus"), nullptr);                 // the bus's own key is no client's
  ASSERT_TRUE(ensure_dev_keys(dir, dev_key_names("h")).ok());  // a second start keeps them
  EXPECT_EQ(keys::Allowlist::read_file(dir + "/allow")->keys()[0].public_key, first->keys()[0].public_key);
  EXPECT_EQ(keys::Allowlist::read_file(dir + "/allow")->keys().size(), 6u);

  // pier hosts add/remove's allowlist edits: refused twice, removed once.
  const auto extra = *keys::generate();
  EXPECT_TRUE(allow_key(dir + "/allow", {extra.public_key, "web-2", keys::Role::agent}).ok());
  EXPECT_EQ(allow_key(dir + "/allow", {keys::generate()->public_key, "web-2", keys::Role::agent}).field(), "name");
  EXPECT_TRUE(revoke_key(dir + "/allow", "web-2").ok());
  EXPECT_EQ(revoke_key(dir + "/allow", "web-2").field(), "name");
  EXPECT_EQ(keys::Allowlist::read_file(dir + "/allow")->keys().size(), 6u);
  EXPECT_EQ(make_key(dir, "h", "agent").field(), dir + "/h.key");  // never overwritten
}

TEST(Dev, BusFaultInjectionOnlyWhenAsked) {
  DevOptions o;
  o.state_dir = "/s";
  const auto plain = dev_children(o, "/nonexistent-bin", "h").front().argv;
  EXPECT_EQ(std::find(plain.begin(), plain.end(), "--allow-fault-injection"), plain.end());
  o.bus_drop_share = 0.2;
  o.bus_drop_seed = 7;
  o.bus_drop_for_ms = 30000;
  const auto lossy = dev_children(o, "/nonexistent-bin", "h").front().argv;
  const auto at = std::find(lossy.begin(), lossy.end(), "--allow-fault-injection");
  ASSERT_NE(at, lossy.end());
  ASSERT_GE(lossy.end() - at, 7);
  EXPECT_EQ(std::vector<std::string>(at, at + 7),
            (std::vector<std::string>{"--allow-fault-injection", "--drop-share", "0.200000", "--drop-seed", "7",
                                      "--drop-for-ms", "30000"}));
}

TEST(Dev, EnvFile) {
  DevOptions o;
  o.bus = {"tcp://127.0.0.1:1", "tcp://127.0.0.1:2", std::nullopt};
  o.metrics_listen = "127.0.0.1:3";
  o.stats_port = 4;
  o.demo_port = 5;
  o.state_dir = "/s";
  EXPECT_EQ(
      dev_env_text(o, false),
      "PIER_BUS_PUB=tcp://127.0.0.1:1\nPIER_BUS_SUB=tcp://127.0.0.1:2\nPIER_METRICS_URL=http://127.0.0.1:3/metrics\n"
      "PIER_STATS_URL=http://127.0.0.1:4/stats\nPIER_CURVE_SECRET=/s/keys/operator.key\n"
      "PIER_BUS_PUBLIC_KEY=/s/keys/bus.pub\nPIER_KEYS_DIR=/s/keys\n");
  o.insecure_bus = true;
  EXPECT_EQ(
      dev_env_text(o, false),
      "PIER_BUS_PUB=tcp://127.0.0.1:1\nPIER_BUS_SUB=tcp://127.0.0.1:2\nPIER_METRICS_URL=http://127.0.0.1:3/metrics\n"
      "PIER_STATS_URL=http://127.0.0.1:4/stats\n");
  EXPECT_NE(dev_env_text(o, true).find("PIER_DEMO_URL=http://127.0.0.1:5/\n"), std::string::npos);
}

TEST(Dev, DemoSpecIsValid) {
  auto spec = demo_spec(8080);
  EXPECT_TRUE(validate::app_spec(spec).ok()) << validate::app_spec(spec).message();
  EXPECT_EQ(spec.replicas, 3);
  EXPECT_EQ(spec.ports[0].internal, 8000);
}

}  // namespace
}  // namespace pier::cli
