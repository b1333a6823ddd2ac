#include "common/validate.h"

#include <gtest/gtest.h>

#include <cmath>

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
  for (const char* good :
       {"a", "web", "web-2", "0abc", "a23456789012345678901234567890123456789012345678901234567890123"}) {
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
  for (const char* good : {"busybox", "pier/demo-app", "library/nginx", "localhost:5000/a/b",
                           "registry.example.com/team/app", "a__b", "a.b-c_d"}) {
    EXPECT_TRUE(validate::image("image", good).ok()) << good;
  }
  for (const char* bad : {"", "pier/demo app", "Pier/Demo", "app:1.0", "a//b", "-a", "a/", "app name", "a\nb"}) {
    auto spec = good_spec();
    spec.image = bad;
    expect_rejected(spec, "image");
  }
}

TEST(Validate, ImageGrammarAsDockersReference) {
  for (const char* good : {"a--b", "a---b/c", "Registry.Example.COM:443/team/app", "localhost/app", "a/b/c/d",
                           "x1.y2/z", "host-1:5000/a__b.c"})
    EXPECT_TRUE(validate::image("image", good).ok()) << good;
  for (const char* bad : {"a...b", "a___b", "a_.b", "a-", "host:port/a", "host:/a", "a:5000", "-host/a", "Host/App",
                          "host./a", ".a", "a/B", "a/b:c/d"})
    EXPECT_FALSE(validate::image("image", bad).ok()) << bad;
}

TEST(Validate, ImageRefusesInLinearTime) {
  // Found by tests/fuzz (validate): the std::regex this replaced backtracked exponentially on a long run
  // of alphanumerics followed by a character outside the grammar, and held the registry's thread.
  const std::string hostile = "ter/" + std::string(200, '3') + "de\x8amo-app";
  EXPECT_FALSE(validate::image("image", hostile).ok());
  EXPECT_FALSE(validate::image("image", std::string(250, 'l') + "\x8a=").ok());
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
  for (const char* bad : {"", "api", "/a b", "/a\nb", "/a#b", "/a\"b", "/a'b", "/a\\b", "/api/", "//", "/a?b",
                          "/${HOME}", "/$x", "/..", "/a/./b", "/a/.."}) {
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
  for (const char* good : {"roundrobin", "leastconn", "source", "uri"}) {
    spec.algorithm = good;
    EXPECT_TRUE(validate::app_spec(spec).ok());
  }
  spec.protocol = "tcp";
  expect_rejected(spec, "algorithm");  // uri hashes the path: http only
}

TEST(Validate, ProxyProtocolIsForTcpAppsOnly) {
  auto spec = good_spec();
  spec.proxy_protocol = true;
  expect_rejected(spec, "proxy_protocol");
  spec.protocol = "tcp";
  EXPECT_TRUE(validate::app_spec(spec).ok());
}

TEST(Validate, HealthCheck) {
  auto spec = good_spec();
  EXPECT_EQ(spec.health_path, "/");
  EXPECT_EQ(spec.check_rise, 2);
  EXPECT_EQ(spec.check_fall, 3);
  EXPECT_EQ(spec.check_inter_ms, 2000);
  for (const char* good : {"/", "/health", "/healthz/", "/a-._~!&()*+,;=:@%2F?x=1&y", "/a?next=/../x"}) {
    spec.health_path = good;
    EXPECT_TRUE(validate::app_spec(spec).ok()) << good;
  }
  // '$' would expand in a template that double-quotes the path; a dot segment never matches a real path.
  for (const char* bad :
       {"", "health", "/a b", "/a\"b", "/a#b", "/a\nb", "/a\\b", "/$HOME", "/a/../b", "/.", "/..?x"}) {
    spec.health_path = bad;
    expect_rejected(spec, "health_path");
  }
  spec.health_path = std::string(257, 'a').replace(0, 1, "/");
  expect_rejected(spec, "health_path");
  spec = good_spec();
  spec.protocol = "tcp";
  spec.health_path = "/health";
  expect_rejected(spec, "health_path");
  spec = good_spec();
  for (int bad : {0, -1, 101}) {
    spec.check_rise = bad;
    expect_rejected(spec, "check_rise");
  }
  spec.check_rise = 100;
  for (int bad : {0, 101}) {
    spec.check_fall = bad;
    expect_rejected(spec, "check_fall");
  }
  spec.check_fall = 1;
  for (int bad : {0, 99, 3'600'001}) {
    spec.check_inter_ms = bad;
    expect_rejected(spec, "check_inter_ms");
  }
  for (int good : {100, 3'600'000}) {
    spec.check_inter_ms = good;
    EXPECT_TRUE(validate::app_spec(spec).ok()) << good;
  }
}

TEST(Validate, Command) {
  auto spec = good_spec();
  spec.command = {"prog", "a\nb"};
  expect_rejected(spec, "command[1]");
  spec.command = {""};
  expect_rejected(spec, "command[0]");
}

msg::AutoscalePolicy good_policy() {
  msg::AutoscalePolicy p;
  p.enabled = true;
  p.min = 2;
  p.max = 8;
  p.targets = {{"cpu_percent", 60}, {"requests_per_second", 100}, {"p95_latency_ms", 250}};
  p.timezone = "Europe/Berlin";
  msg::AutoscalePeriod day;
  day.days = {"mon", "tue", "wed", "thu", "fri"};
  day.start_hour = 8;
  day.end_hour = 20;
  day.min = 4;
  day.max = 16;
  msg::AutoscalePeriod night;
  night.start_hour = 22;
  night.end_hour = 6;  // wraps midnight
  night.min = 0;
  night.max = 2;
  p.schedule = {day, night};
  return p;
}

TEST(Validate, AutoscaleGoodPoliciesPass) {
  msg::AppSpec spec = good_spec();
  spec.autoscale = good_policy();
  EXPECT_TRUE(validate::app_spec(spec).ok()) << validate::app_spec(spec).message();
  spec.autoscale = msg::AutoscalePolicy{};  // the default (off)
  EXPECT_TRUE(validate::app_spec(spec).ok());
  spec.autoscale = good_policy();
  spec.autoscale.targets.clear();  // schedule only
  spec.autoscale.timezone = "America/New_York";
  EXPECT_TRUE(validate::app_spec(spec).ok());
  spec.autoscale.timezone = "UTC";
  spec.autoscale.min = spec.autoscale.max = 3;
  EXPECT_TRUE(validate::app_spec(spec).ok());
}

TEST(Validate, AutoscaleRules) {
  struct Case {
    void (*change)(msg::AutoscalePolicy&);
    const char* field;
  };
  const Case cases[] = {
      {[](msg::AutoscalePolicy& p) { p.min = 9; }, "autoscale.min"},
      {[](msg::AutoscalePolicy& p) { p.min = -1; }, "autoscale.min"},
      {[](msg::AutoscalePolicy& p) { p.max = 1001; }, "autoscale.max"},
      {[](msg::AutoscalePolicy& p) { p.targets[1].value = 0; }, "autoscale.targets[1].value"},
      {[](msg::AutoscalePolicy& p) { p.targets[0].value = -5; }, "autoscale.targets[0].value"},
      {[](msg::AutoscalePolicy& p) { p.targets[0].value = std::nan(""); }, "autoscale.targets[0].value"},
      {[](msg::AutoscalePolicy& p) { p.targets[2].metric = "memory"; }, "autoscale.targets[2].metric"},
      {[](msg::AutoscalePolicy& p) { p.targets[2].metric = "cpu_percent"; }, "autoscale.targets[2].metric"},
      {[](msg::AutoscalePolicy& p) { p.timezone = "Mars/Olympus_Mons"; }, "autoscale.timezone"},
      {[](msg::AutoscalePolicy& p) { p.timezone = "../../etc/passwd"; }, "autoscale.timezone"},
      {[](msg::AutoscalePolicy& p) { p.timezone = ""; }, "autoscale.timezone"},
      {[](msg::AutoscalePolicy& p) { p.timezone = "Europe"; }, "autoscale.timezone"},
      {[](msg::AutoscalePolicy& p) { p.schedule[1].start_hour = 24; }, "autoscale.schedule[1].start_hour"},
      {[](msg::AutoscalePolicy& p) { p.schedule[0].end_hour = -1; }, "autoscale.schedule[0].end_hour"},
      {[](msg::AutoscalePolicy& p) { p.schedule[0].days[2] = "wednesday"; }, "autoscale.schedule[0].days[2]"},
      {[](msg::AutoscalePolicy& p) { p.schedule[1].min = 3; }, "autoscale.schedule[1].min"},
      {[](msg::AutoscalePolicy& p) { p.up_window_s = -1; }, "autoscale.up_window_s"},
      {[](msg::AutoscalePolicy& p) { p.down_window_s = 90000; }, "autoscale.down_window_s"},
      {[](msg::AutoscalePolicy& p) { p.cooldown_s = -1; }, "autoscale.cooldown_s"},
      {[](msg::AutoscalePolicy& p) { p.max_step = 0; }, "autoscale.max_step"},
      {[](msg::AutoscalePolicy& p) { p.stale_after_s = 0; }, "autoscale.stale_after_s"},
      {[](msg::AutoscalePolicy& p) { p.prewarm_s = -1; }, "autoscale.prewarm_s"},
  };
  for (const auto& c : cases) {
    msg::AppSpec spec = good_spec();
    spec.autoscale = good_policy();
    c.change(spec.autoscale);
    expect_rejected(spec, c.field);
  }
  // Checked even when off: a broken policy is never stored.
  msg::AppSpec spec = good_spec();
  spec.autoscale.min = 5;
  spec.autoscale.max = 4;
  expect_rejected(spec, "autoscale.min");
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

TEST(Validate, UnicastAddressesAndMacs) {
  EXPECT_TRUE(validate::unicast_ipv4("a", "10.77.1.11").ok());
  for (const char* bad : {"", "10.1.1", "host", "0.0.0.0", "127.0.0.1", "224.0.0.1", "255.255.255.255", "::1"}) {
    const Status s = validate::unicast_ipv4("overlay.underlay", bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.field(), "overlay.underlay");
  }
  EXPECT_TRUE(validate::mac_address("m", "0a:1b:2c:3d:4e:5f").ok());
  EXPECT_TRUE(validate::mac_address("m", "AA:BB:CC:DD:EE:F0").ok());
  for (const char* bad : {"", "0a:1b:2c:3d:4e", "0a-1b-2c-3d-4e-5f", "0a:1b:2c:3d:4e:5g", "00:00:00:00:00:00",
                          "01:00:5e:00:00:01", "0a:1b:2c:3d:4e:5f:00", "0a:1b:2c:3d:4e:5"}) {
    const Status s = validate::mac_address("overlay.vtep_mac", bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.field(), "overlay.vtep_mac");
  }
}

TEST(Validate, OverlayNamesTheFieldThatBreaksARule) {
  msg::OverlayInfo none;
  EXPECT_TRUE(validate::overlay("overlay", none).ok());
  msg::OverlayInfo vxlan{"vxlan", "10.77.1.11", "0a:1b:2c:3d:4e:5f", 1, 4789, 1450, 7709};
  EXPECT_TRUE(validate::overlay("overlay", vxlan).ok());
  msg::OverlayInfo gw{"host-gw", "10.77.1.11", "", 0, 0, 1500, 7709};
  EXPECT_TRUE(validate::overlay("overlay", gw).ok());
  const auto field_of = [](msg::OverlayInfo o) { return validate::overlay("overlay", o).field(); };
  auto o = vxlan;
  o.mode = "ipip";
  EXPECT_EQ(field_of(o), "overlay.mode");
  o = vxlan;
  o.underlay = "fe80::1";
  EXPECT_EQ(field_of(o), "overlay.underlay");
  o = vxlan;
  o.vtep_mac = "zz:1b:2c:3d:4e:5f";
  EXPECT_EQ(field_of(o), "overlay.vtep_mac");
  o = vxlan;
  o.vni = 1 << 24;
  EXPECT_EQ(field_of(o), "overlay.vni");
  o = vxlan;
  o.port = 0;
  EXPECT_EQ(field_of(o), "overlay.port");
  o = gw;
  o.probe_port = 70000;
  EXPECT_EQ(field_of(o), "overlay.probe_port");
}

}  // namespace
}  // namespace pier
