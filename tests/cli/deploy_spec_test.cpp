#include "cli/deploy_spec.h"

#include <gtest/gtest.h>

namespace pier::cli {
namespace {

const char* kFullFile = R"(
name: web
image: pier/demo-app
tag: "0.1.0"
command: [pier-demo-app, --mode, http]
ports: ["8080:8000", "8443:8001"]
protocol: http
replicas: 3
cpu: 0.5
memory: 128m
env: {GREETING: hello, EMPTY: ""}
context_path: /api
algorithm: leastconn
)";

DeployFlags minimal_flags() {
  DeployFlags f;
  f.name = "web";
  f.image = "pier/demo-app";
  f.ports = {"8080:8000"};
  f.command = {"pier-demo-app"};
  return f;
}

TEST(DeploySpec, FileGivesEveryField) {
  auto spec = build_spec(std::string(kFullFile), DeployFlags{});
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->name, "web");
  EXPECT_EQ(spec->image, "pier/demo-app");
  EXPECT_EQ(spec->tag, "0.1.0");
  EXPECT_EQ(spec->command, (std::vector<std::string>{"pier-demo-app", "--mode", "http"}));
  ASSERT_EQ(spec->ports.size(), 2u);
  EXPECT_EQ(spec->ports[1].external, 8443);
  EXPECT_EQ(spec->ports[1].internal, 8001);
  EXPECT_EQ(spec->replicas, 3);
  EXPECT_DOUBLE_EQ(spec->cpu, 0.5);
  EXPECT_EQ(spec->memory_bytes, 128LL << 20);
  EXPECT_EQ(spec->env.at("GREETING"), "hello");
  EXPECT_EQ(spec->env.at("EMPTY"), "");
  EXPECT_EQ(spec->context_path, "/api");
  EXPECT_EQ(spec->algorithm, "leastconn");
}

TEST(DeploySpec, CommandMayBeOneStringInTheFile) {
  auto spec = apply_yaml("command: pier-demo-app --mode tcp\n", {});
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->command, (std::vector<std::string>{"pier-demo-app", "--mode", "tcp"}));
}

TEST(DeploySpec, DrainTimeoutAndProxyProtocol) {
  auto spec = apply_yaml("protocol: tcp\nproxy_protocol: true\ndrain_timeout_ms: 5s\n", {});
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_TRUE(spec->proxy_protocol);
  EXPECT_EQ(spec->drain_timeout_ms, 5000);
  auto bad = apply_yaml("proxy_protocol: maybe\n", {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("proxy_protocol"), std::string::npos);
  DeployFlags f = minimal_flags();
  f.drain_timeout = "750ms";
  f.proxy_protocol = true;
  f.protocol = "tcp";
  auto flagged = build_spec(std::nullopt, f);
  ASSERT_TRUE(flagged.ok()) << flagged.status().message();
  EXPECT_EQ(flagged->drain_timeout_ms, 750);
  EXPECT_TRUE(flagged->proxy_protocol);
}

TEST(DeploySpec, RolloutSettings) {
  auto spec = apply_yaml("max_surge: 2\nmax_unavailable: 1\nrollout_timeout_ms: 90s\n", {});
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->max_surge, 2);
  EXPECT_EQ(spec->max_unavailable, 1);
  EXPECT_EQ(spec->rollout_timeout_ms, 90'000);
  DeployFlags f = minimal_flags();
  f.max_surge = "0";
  f.max_unavailable = "2";
  f.rollout_timeout = "15s";
  auto flagged = build_spec(std::nullopt, f);
  ASSERT_TRUE(flagged.ok()) << flagged.status().message();
  EXPECT_EQ(flagged->max_surge, 0);
  EXPECT_EQ(flagged->rollout_timeout_ms, 15'000);
  f.max_unavailable = "0";
  auto stalled = build_spec(std::nullopt, f);
  ASSERT_FALSE(stalled.ok());
  EXPECT_EQ(stalled.status().field(), "max_unavailable") << stalled.status().message();
  f.max_unavailable = std::nullopt;
  f.max_surge = "-1";
  EXPECT_EQ(build_spec(std::nullopt, f).status().field(), "max_surge");
  f.max_surge = std::nullopt;
  f.rollout_timeout = "10ms";
  EXPECT_EQ(build_spec(std::nullopt, f).status().field(), "rollout_timeout_ms");
}

TEST(DeploySpec, FlagsOverrideTheFile) {
  DeployFlags f;
  f.replicas = "5";
  f.ports = {"9090:9000"};
  f.env = {"GREETING=hi", "EXTRA=a=b"};
  f.command = {"other --flag", "x"};
  f.tag = "2.0";
  auto spec = build_spec(std::string(kFullFile), f);
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->replicas, 5);
  ASSERT_EQ(spec->ports.size(), 1u);  // --port replaces the file's list
  EXPECT_EQ(spec->ports[0].external, 9090);
  EXPECT_EQ(spec->env.at("GREETING"), "hi");  // --env adds to the file's env
  EXPECT_EQ(spec->env.at("EXTRA"), "a=b");
  EXPECT_EQ(spec->env.size(), 3u);
  EXPECT_EQ(spec->command, (std::vector<std::string>{"other", "--flag", "x"}));
  EXPECT_EQ(spec->tag, "2.0");
  EXPECT_EQ(spec->name, "web");  // not overridden
}

TEST(DeploySpec, DefaultsWithoutAFile) {
  auto spec = build_spec(std::nullopt, minimal_flags());
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->tag, "latest");
  EXPECT_EQ(spec->replicas, 1);
  EXPECT_EQ(spec->protocol, "http");
  EXPECT_EQ(spec->context_path, "/");
}

TEST(DeploySpec, ImageMayCarryTheTag) {
  DeployFlags f = minimal_flags();
  f.image = "registry.local:5000/pier/demo-app:1.2";
  auto spec = build_spec(std::nullopt, f);
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->image, "registry.local:5000/pier/demo-app");
  EXPECT_EQ(spec->tag, "1.2");
  f.image = "registry.local:5000/pier/demo-app";
  spec = build_spec(std::nullopt, f);
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->image, "registry.local:5000/pier/demo-app");
  EXPECT_EQ(spec->tag, "latest");
}

TEST(DeploySpec, UnknownKeyIsNamed) {
  auto spec = build_spec(std::string("name: web\nreplica: 3\n"), DeployFlags{});
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().field(), "replica");
}

TEST(DeploySpec, WrongShapesAreNamed) {
  EXPECT_EQ(apply_yaml("ports: {a: 1}\n", {}).status().field(), "ports");
  EXPECT_EQ(apply_yaml("replicas: [1]\n", {}).status().field(), "replicas");
  EXPECT_EQ(apply_yaml("replicas: many\n", {}).status().field(), "replicas");
  EXPECT_EQ(apply_yaml("ports: [\"8080:8000\", \"x\"]\n", {}).status().field(), "ports[1]");
  EXPECT_EQ(apply_yaml("memory: lots\n", {}).status().field(), "memory");
  EXPECT_EQ(apply_yaml("- a\n- b\n", {}).status().field(), "app file");
  EXPECT_EQ(apply_yaml("name: [unclosed\n", {}).status().field(), "app file");
}

// The e2e's bad-input table, checked before anything is sent: each names its field.
TEST(DeploySpec, BadFlagsNameTheirField) {
  struct Case {
    void (*set)(DeployFlags&);
    std::string field_part;
  };
  const std::vector<Case> cases = {
      {[](DeployFlags& f) { f.name = "a;b"; }, "name"},
      {[](DeployFlags& f) { f.name = std::string(64, 'a'); }, "name"},
      {[](DeployFlags& f) { f.ports = {"0:8000"}; }, "port"},
      {[](DeployFlags& f) { f.ports = {"70000:8000"}; }, "port"},
      {[](DeployFlags& f) { f.protocol = "udp"; }, "protocol"},
      {[](DeployFlags& f) { f.context_path = "/a b"; }, "context_path"},
      {[](DeployFlags& f) { f.context_path = "/a\nb"; }, "context_path"},
      {[](DeployFlags& f) { f.context_path = "/a#b"; }, "context_path"},
      {[](DeployFlags& f) { f.replicas = "-1"; }, "replicas"},
      {[](DeployFlags& f) { f.replicas = "two"; }, "replicas"},
      {[](DeployFlags& f) { f.memory = "lots"; }, "memory"},
      {[](DeployFlags& f) { f.cpu = "-1"; }, "cpu"},
      {[](DeployFlags& f) { f.env = {"A\nB=1"}; }, "env"},
      {[](DeployFlags& f) { f.env = {"FOO=a\nb"}; }, "env"},
      {[](DeployFlags& f) { f.env = {"NOEQUALS"}; }, "env"},
      {[](DeployFlags& f) { f.image = "pier/demo app"; }, "image"},
      {[](DeployFlags& f) { f.algorithm = "random"; }, "algorithm"},
  };
  for (const auto& c : cases) {
    DeployFlags f = minimal_flags();
    c.set(f);
    auto spec = build_spec(std::nullopt, f);
    ASSERT_FALSE(spec.ok()) << c.field_part;
    EXPECT_NE(spec.status().field().find(c.field_part), std::string::npos)
        << "expected " << c.field_part << ", got " << spec.status().message();
  }
}

TEST(DeploySpec, AutoscaleBlock) {
  auto spec = apply_yaml(R"(
autoscale:
  min: 2
  max: 12
  targets: {cpu_percent: 60, requests_per_second: 150.5}
  up_window_s: 20
  down_window_s: 600
  cooldown_s: 90
  max_step: 3
  stale_after_s: 15
  timezone: Europe/Berlin
  prewarm_s: 300
  schedule:
    - {days: [mon, tue, wed, thu, fri], start_hour: 8, end_hour: 20, min: 4, max: 12}
    - {days: "sat,sun", start_hour: 22, end_hour: 6, min: 1, max: 3}
)",
                         msg::AppSpec{});
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  const auto& a = spec->autoscale;
  EXPECT_TRUE(a.enabled);  // the block's presence turns it on
  EXPECT_EQ(a.min, 2);
  EXPECT_EQ(a.max, 12);
  ASSERT_EQ(a.targets.size(), 2u);
  EXPECT_EQ(a.targets[0].metric, "cpu_percent");
  EXPECT_EQ(a.targets[0].value, 60);
  EXPECT_EQ(a.targets[1].metric, "requests_per_second");
  EXPECT_EQ(a.targets[1].value, 150.5);
  EXPECT_EQ(a.up_window_s, 20);
  EXPECT_EQ(a.down_window_s, 600);
  EXPECT_EQ(a.cooldown_s, 90);
  EXPECT_EQ(a.max_step, 3);
  EXPECT_EQ(a.stale_after_s, 15);
  EXPECT_EQ(a.timezone, "Europe/Berlin");
  EXPECT_EQ(a.prewarm_s, 300);
  ASSERT_EQ(a.schedule.size(), 2u);
  EXPECT_EQ(a.schedule[0].days, (std::vector<std::string>{"mon", "tue", "wed", "thu", "fri"}));
  EXPECT_EQ(a.schedule[0].start_hour, 8);
  EXPECT_EQ(a.schedule[0].end_hour, 20);
  EXPECT_EQ(a.schedule[0].min, 4);
  EXPECT_EQ(a.schedule[0].max, 12);
  EXPECT_EQ(a.schedule[1].days, (std::vector<std::string>{"sat", "sun"}));

  auto listed =
      apply_yaml("autoscale: {enabled: false, targets: [{metric: p95_latency_ms, value: 250}]}", msg::AppSpec{});
  ASSERT_TRUE(listed.ok()) << listed.status().message();
  EXPECT_FALSE(listed->autoscale.enabled);
  ASSERT_EQ(listed->autoscale.targets.size(), 1u);
  EXPECT_EQ(listed->autoscale.targets[0].metric, "p95_latency_ms");
  EXPECT_EQ(listed->autoscale.targets[0].value, 250);

  EXPECT_FALSE(apply_yaml("name: web", msg::AppSpec{})->autoscale.enabled);  // absent: off
}

TEST(DeploySpec, AutoscaleBlockErrorsNameTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {"autoscale: 3", "autoscale"},
      {"autoscale: {minimum: 1}", "autoscale.minimum"},
      {"autoscale: {min: two}", "autoscale.min"},
      {"autoscale: {enabled: maybe}", "autoscale.enabled"},
      {"autoscale: {targets: {cpu_percent: lots}}", "autoscale.targets.cpu_percent"},
      {"autoscale: {targets: [{metric: cpu_percent, goal: 5}]}", "autoscale.targets[0].goal"},
      {"autoscale: {targets: [cpu_percent]}", "autoscale.targets[0]"},
      {"autoscale: {schedule: [{start_hour: 8, stop_hour: 9}]}", "autoscale.schedule[0].stop_hour"},
      {"autoscale: {schedule: [{start_hour: eight}]}", "autoscale.schedule[0].start_hour"},
      {"autoscale: {schedule: {start_hour: 8}}", "autoscale.schedule"},
  };
  for (const auto& [yaml, field] : cases) {
    auto spec = apply_yaml(yaml, msg::AppSpec{});
    ASSERT_FALSE(spec.ok()) << yaml;
    EXPECT_EQ(spec.status().field(), field) << yaml << ": " << spec.status().message();
  }
  // Values of the right shape but breaking a rule are refused by validation, with the field named.
  const std::pair<const char*, const char*> invalid[] = {
      {"autoscale: {min: 5, max: 2}", "autoscale.min"},
      {"autoscale: {targets: {cpu: 50}}", "autoscale.targets[0].metric"},
      {"autoscale: {targets: {cpu_percent: 0}}", "autoscale.targets[0].value"},
      {"autoscale: {timezone: Nowhere/Special}", "autoscale.timezone"},
      {"autoscale: {schedule: [{start_hour: 25, end_hour: 3, min: 1, max: 2}]}", "autoscale.schedule[0].start_hour"},
      {"autoscale: {schedule: [{days: [mon, funday], start_hour: 1, end_hour: 3, min: 1, max: 2}]}",
       "autoscale.schedule[0].days[1]"},
  };
  for (const auto& [yaml, field] : invalid) {
    auto spec = build_spec(std::string(yaml), minimal_flags());
    ASSERT_FALSE(spec.ok()) << yaml;
    EXPECT_EQ(spec.status().field(), field) << yaml << ": " << spec.status().message();
  }
}

TEST(DeploySpec, HealthCheckFromFileAndFlags) {
  auto spec = build_spec(std::string("health_path: /healthz\ncheck_rise: 4\ncheck_fall: 5\ncheck_inter_ms: 2s\n"),
                         minimal_flags());
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->health_path, "/healthz");
  EXPECT_EQ(spec->check_rise, 4);
  EXPECT_EQ(spec->check_fall, 5);
  EXPECT_EQ(spec->check_inter_ms, 2000);
  DeployFlags f = minimal_flags();
  f.health_path = "/up";
  f.check_rise = "1";
  f.check_fall = "7";
  f.check_inter = "500ms";
  spec = build_spec(std::string("check_inter_ms: 3000\n"), f);
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->health_path, "/up");
  EXPECT_EQ(spec->check_rise, 1);
  EXPECT_EQ(spec->check_fall, 7);
  EXPECT_EQ(spec->check_inter_ms, 500);
  f.check_inter = "250";
  EXPECT_EQ(build_spec(std::nullopt, f)->check_inter_ms, 250);
  const std::pair<const char*, const char*> bad_files[] = {{"check_rise: two", "check_rise"},
                                                           {"check_fall: 0", "check_fall"},
                                                           {"check_inter_ms: soon", "check_inter_ms"},
                                                           {"check_inter_ms: 50ms", "check_inter_ms"},
                                                           {"health_path: x", "health_path"}};
  for (const auto& [yaml, field] : bad_files) {
    auto bad = build_spec(std::string(yaml), minimal_flags());
    ASSERT_FALSE(bad.ok()) << yaml;
    EXPECT_EQ(bad.status().field(), field) << yaml << ": " << bad.status().message();
  }
  f = minimal_flags();
  f.check_inter = "2h";
  EXPECT_EQ(build_spec(std::nullopt, f).status().field(), "check_inter_ms");
}

TEST(DeploySpec, MissingPortsIsRefused) {
  DeployFlags f = minimal_flags();
  f.ports.clear();
  auto spec = build_spec(std::nullopt, f);
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().field(), "ports");
}

}  // namespace
}  // namespace pier::cli
