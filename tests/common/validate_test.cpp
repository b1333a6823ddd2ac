#include "common/validate.h"

#include <gtest/gtest.h>

namespace pier {
namespace {

msg::AppSpec good_spec() {
  msg::AppSpec spec;
  spec.name = "web";
  spec.image = "pier/demo-app";
  spec.tag = "0.1.0";
  spec.command = {"pier-demo-app"};
  spec.ports = {{8080, 80}};
  return spec;
}

void expect_rejected(const msg::AppSpec& spec, const std::string& field) {
  Status s = validate::app_spec(spec);
  ASSERT_FALSE(s.ok()) << "expected " << field << " to be rejected";
  EXPECT_EQ(s.field(), field) << s.message();
  EXPECT_FALSE(s.rule().empty());
  EXPECT_EQ(s.message(), s.field() + ": " + s.rule());
}

TEST(Validate, GoodSpecPasses) { EXPECT_TRUE(validate::app_spec(good_spec()).ok()); }

TEST(Validate, Name) {
  for (const char* good : {"a", "web", "web-2", "0abc", "a23456789012345678901234567890123456789012345678901234567890123"}) {
    EXPECT_TRUE(validate::dns_label("name", good).ok()) << good;
  }
  for (const char* bad : {"", "a;b", "Web", "-web", "web-", "we_b", "w b", "web\n",
                          "a234567890123456789012345678901234567890123456789012345678901234"}) {
    auto spec = good_spec();
    spec.name = bad;
    expect_rejected(spec, "name");
  }
}

TEST(Validate, Image) {
  for (const char* good : {"busybox", "pier/demo-app", "library/nginx", "localhost:5000/a/b", "registry.example.com/team/app",
                           "a__b", "a.b-c_d"}) {
    EXPECT_TRUE(validate::image("image", good).ok()) << good;
  }
  for (const char* bad : {"", "pier/demo app", "Pier/Demo", "app:1.0", "a//b", "-a", "a/", "app name", "a\nb"}) {
    auto spec = good_spec();
    spec.image = bad;
    expect_rejected(spec, "image");
  }
}

TEST(Validate, Tag) {
  EXPECT_TRUE(validate::tag("tag", "v1.2.3_rc-1").ok());
  for (const std::string& bad : std::vector<std::string>{"", ".hidden", "-x", "a b", "a:b", std::string(129, 'a')}) {
    auto spec = good_spec();
    spec.tag = bad;
    expect_rejected(spec, "tag");
  }
}

TEST(Validate, Ports) {
  auto spec = good_spec();
  spec.ports = {{0, 80}};
  expect_rejected(spec, "ports[0].external");
  spec.ports = {{70000, 80}};
  expect_rejected(spec, "ports[0].external");
  spec.ports = {{8080, 80}, {8081, 65536}};
  expect_rejected(spec, "ports[1].internal");
  spec.ports = {{8080, 80}, {8080, 81}};
  expect_rejected(spec, "ports[1].external");
  spec.ports = {};
  expect_rejected(spec, "ports");
  spec.ports = {{1, 65535}};
  EXPECT_TRUE(validate::app_spec(spec).ok());
}

TEST(Validate, Protocol) {
  auto spec = good_spec();
  spec.protocol = "udp";
  expect_rejected(spec, "protocol");
  spec.protocol = "tcp";
  EXPECT_TRUE(validate::app_spec(spec).ok());
  spec.context_path = "/api";
  expect_rejected(spec, "context_path");
}

TEST(Validate, ContextPath) {
  for (const char* good : {"/", "/api", "/api/v1", "/a-b_c.d~e", "/%20x"}) {
    EXPECT_TRUE(validate::context_path("context_path", good).ok()) << good;
  }
  for (const char* bad : {"", "api", "/a b", "/a\nb", "/a#b", "/a\"b", "/a'b", "/a\\b", "/api/", "//", "/a?b"}) {
    auto spec = good_spec();
    spec.context_path = bad;
    expect_rejected(spec, "context_path");
  }
}

TEST(Validate, Replicas) {
  auto spec = good_spec();
  spec.replicas = -1;
  expect_rejected(spec, "replicas");
  spec.replicas = 1001;
  expect_rejected(spec, "replicas");
  spec.replicas = 0;
  EXPECT_TRUE(validate::app_spec(spec).ok());
}

TEST(Validate, CpuAndMemory) {
  auto spec = good_spec();
  spec.cpu = 0;
  expect_rejected(spec, "cpu");
  spec.cpu = -1;
  expect_rejected(spec, "cpu");
  spec.cpu = 0.25;
  spec.memory_bytes = 1024;
  expect_rejected(spec, "memory");
  spec.memory_bytes = 64LL << 20;
  EXPECT_TRUE(validate::app_spec(spec).ok());
}

TEST(Validate, Env) {
  auto spec = good_spec();
  spec.env = {{"A=B", "x"}};
  expect_rejected(spec, "env");
  spec.env = {{"1A", "x"}};
  expect_rejected(spec, "env");
  spec.env = {{"PORT", "1"}};
  expect_rejected(spec, "env");
  spec.env = {{"FOO", "a\nb"}};
  expect_rejected(spec, "env.FOO");
  spec.env = {{"FOO", "a\rb"}};
  expect_rejected(spec, "env.FOO");
  spec.env = {{"FOO", "a=b c"}, {"_X1", ""}};
  EXPECT_TRUE(validate::app_spec(spec).ok());
}

TEST(Validate, Algorithm) {
  auto spec = good_spec();
  spec.algorithm = "random";
  expect_rejected(spec, "algorithm");
  for (const char* good : {"roundrobin", "leastconn", "source"}) {
    spec.algorithm = good;
    EXPECT_TRUE(validate::app_spec(spec).ok());
  }
}

TEST(Validate, Command) {
  auto spec = good_spec();
  spec.command = {"prog", "a\nb"};
  expect_rejected(spec, "command[1]");
  spec.command = {""};
  expect_rejected(spec, "command[0]");
}

TEST(Validate, ParseMemory) {
  EXPECT_EQ(*validate::parse_memory("memory", "64m"), 64LL << 20);
  EXPECT_EQ(*validate::parse_memory("memory", "1g"), 1LL << 30);
  EXPECT_EQ(*validate::parse_memory("memory", "512K"), 512LL << 10);
  EXPECT_EQ(*validate::parse_memory("memory", "64MiB"), 64LL << 20);
  EXPECT_EQ(*validate::parse_memory("memory", "1048576"), 1048576);
  for (const char* bad : {"lots", "", "-1m", "1x", "m", "1 2"}) {
    auto r = validate::parse_memory("memory", bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().field(), "memory");
  }
}

TEST(Validate, ParseCpuAndPorts) {
  EXPECT_DOUBLE_EQ(*validate::parse_cpu("cpu", "0.5"), 0.5);
  EXPECT_FALSE(validate::parse_cpu("cpu", "half").ok());
  auto p = validate::parse_port_mapping("ports", "8080:80");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->external, 8080);
  EXPECT_EQ(p->internal, 80);
  EXPECT_EQ(validate::parse_port_mapping("ports", "9000")->internal, 9000);
  for (const char* bad : {"0:80", "70000:80", "80:", "a:b", "", "80:80:80"}) {
    EXPECT_FALSE(validate::parse_port_mapping("ports", bad).ok()) << bad;
  }
  EXPECT_FALSE(validate::parse_env("env", "NOVALUE").ok());
  auto e = validate::parse_env("env", "A=b=c");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->first, "A");
  EXPECT_EQ(e->second, "b=c");
}

}  // namespace
}  // namespace pier
