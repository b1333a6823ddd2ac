// lbgen's own defence, for a state that holds a hostile value anyway (an old registry, a bug, a forged
// state.full): an app whose spec does not validate is left out of every config, a host whose fields do
// not pass check_host gets none, and no hostile value of tests/support/hostile_values.h reaches the text.
#include <gtest/gtest.h>

#include "common/validate.h"
#include "services/lbgen/lb_spec.h"
#include "services/lbgen/render.h"
#include "tests/support/hostile_values.h"

namespace pier::lbgen {
namespace {

msg::State state_with(const msg::AppSpec& extra) {
  msg::State state;
  msg::HostRecord host;
  host.id = "host-a";
  host.address = "127.0.0.1";
  host.haproxy_socket = "/run/pier/haproxy.sock";
  host.stats_port = 8404;
  state.hosts = {host};
  msg::AppSpec web;
  web.name = "web";
  web.image = "pier/demo-app";
  web.ports = {{8080, 8000}};
  state.apps = {{web, 1, {}, {}}};
  state.instances = {{"web-1", "web", "host-a", "127.100.0.2", "running", "", 1, 0, {}, 1}};
  if (!extra.name.empty()) {
    state.apps.push_back({extra, 2, {}, {}});
    state.instances.push_back({"api-2", extra.name, "host-a", "127.100.0.3", "running", "", 2, 0, {}, 2});
  }
  return state;
}

std::string render_for(const msg::State& state, std::vector<Excluded>* excluded = nullptr) {
  auto text = render(build_spec(state, state.hosts.at(0), excluded), default_template());
  EXPECT_TRUE(text.ok()) << text.status().message();
  return text.ok() ? *text : std::string();
}

TEST(HostileInputRender, AnAppWithAHostileFieldIsLeftOutOfTheConfig) {
  const std::string clean = render_for(state_with({}));
  int left_out = 0;
  for (const auto& field : test::app_spec_fields()) {
    for (const auto& hostile : test::hostile_values()) {
      for (const auto& value : test::tries(field, hostile)) {
        if (!test::must_refuse(field, hostile, value)) continue;
        msg::AppSpec api;
        api.name = "api";
        api.image = "pier/demo-app";
        api.ports = {{8080, 8001}};
        api.context_path = "/api";
        field.set(api, value);
        if (api.name.empty()) continue;  // an app without a name is not one
        std::vector<Excluded> excluded;
        const std::string text = render_for(state_with(api), &excluded);
        EXPECT_EQ(text, clean) << field.name << ", " << hostile.what;
        ASSERT_FALSE(excluded.empty()) << field.name << ", " << hostile.what;
        EXPECT_NE(excluded[0].reason.find(field.name), std::string::npos) << excluded[0].reason;
        left_out += text == clean;
      }
    }
  }
  EXPECT_GT(left_out, 400);
}

TEST(HostileInputRender, AHostWithAHostileSocketOrAddressIsRefused) {
  for (const auto& hostile : test::hostile_values()) {
    msg::HostRecord host = state_with({}).hosts[0];
    if (hostile.breaks_path) {
      host.haproxy_socket = "/run/pier/" + hostile.value;
      EXPECT_EQ(check_host(host).field(), "haproxy_socket") << hostile.what;
    }
    host = state_with({}).hosts[0];
    host.address = hostile.value.empty() ? "x" : hostile.value;
    EXPECT_EQ(check_host(host).field(), "address") << hostile.what;
    host = state_with({}).hosts[0];
    host.id = hostile.value;
    EXPECT_EQ(check_host(host).field(), "id") << hostile.what;
  }
}

}  // namespace
}  // namespace pier::lbgen
