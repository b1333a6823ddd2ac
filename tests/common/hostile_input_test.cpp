// Every hostile value of tests/support/hostile_values.h in every field of an app spec that reaches
// haproxy.cfg, a command line, the Docker API or a file path: refused by validate::app_spec, naming the
// field. Fields passed on as data (argv, env values) refuse what breaks data and keep the rest as is.
#include <gtest/gtest.h>

#include "common/validate.h"
#include "tests/support/hostile_values.h"

namespace pier {
namespace {

msg::AppSpec good_spec() {
  msg::AppSpec spec;
  spec.name = "web";
  spec.image = "pier/demo-app";
  spec.command = {"pier-demo-app"};
  spec.ports = {{8080, 8000}};
  return spec;
}

TEST(HostileInput, EveryValueInEveryFieldIsRefusedNamingTheField) {
  int refused = 0;
  for (const auto& field : test::app_spec_fields()) {
    for (const auto& hostile : test::hostile_values()) {
      for (const auto& value : test::tries(field, hostile)) {
        msg::AppSpec spec = good_spec();
        field.set(spec, value);
        const Status status = validate::app_spec(spec);
        if (test::must_refuse(field, hostile, value)) {
          EXPECT_FALSE(status.ok()) << field.name << " accepted " << hostile.what;
          EXPECT_EQ(status.field(), field.name) << hostile.what << ": " << status.message();
          EXPECT_FALSE(status.rule().empty());
          refused += !status.ok();
        } else {
          // Inert as data: the exec runtime passes argv and env to execve, Docker gets them as JSON strings.
          EXPECT_TRUE(status.ok()) << field.name << " refused " << hostile.what << ": " << status.message();
        }
      }
    }
  }
  EXPECT_GT(refused, 400);
}

TEST(HostileInput, PortsOutOfRangeAreRefusedNamingTheMapping) {
  for (int bad : {0, -1, 65536, 2147483647, -2147483647 - 1}) {
    msg::AppSpec spec = good_spec();
    spec.ports = {{bad, 8000}};
    EXPECT_EQ(validate::app_spec(spec).field(), "ports[0].external") << bad;
    spec.ports = {{8080, bad}};
    EXPECT_EQ(validate::app_spec(spec).field(), "ports[0].internal") << bad;
  }
}

TEST(HostileInput, HostFieldsThatReachAConfigOrAPathAreRefused) {
  for (const auto& hostile : test::hostile_values()) {
    EXPECT_FALSE(validate::dns_label("host_id", hostile.value).ok()) << hostile.what;
    EXPECT_FALSE(validate::unicast_ipv4("address", hostile.value).ok()) << hostile.what;
    if (hostile.breaks_path) {
      EXPECT_FALSE(validate::socket_path("haproxy_socket", "/run/pier/" + hostile.value).ok()) << hostile.what;
    }
  }
  EXPECT_TRUE(validate::socket_path("haproxy_socket", "/run/pier/host-a/haproxy.sock").ok());
  EXPECT_TRUE(validate::socket_path("haproxy_socket", "").ok());
}

}  // namespace
}  // namespace pier
