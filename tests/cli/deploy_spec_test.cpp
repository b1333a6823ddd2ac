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

TEST(DeploySpec, MissingPortsIsRefused) {
  DeployFlags f = minimal_flags();
  f.ports.clear();
  auto spec = build_spec(std::nullopt, f);
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().field(), "ports");
}

}  // namespace
}  // namespace pier::cli
