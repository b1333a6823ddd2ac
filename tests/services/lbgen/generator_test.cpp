#include "services/lbgen/generator.h"

#include <gtest/gtest.h>

#include "services/lbgen/config_hash.h"
#include "services/lbgen/render.h"
#include "tests/services/lbgen/state_builder.h"

namespace pier::lbgen {
namespace {

using testing::app;
using testing::host;
using testing::instance;

msg::State web_state(int64_t revision) {
  msg::State state;
  state.revision = revision;
  state.hosts = {host("h1", "127.0.0.1"), host("h2", "127.0.0.2")};
  state.apps = {app("web", {{8080, 8000}})};
  state.instances = {instance("web-1", "web", "h1", "127.100.0.2")};
  return state;
}

std::vector<std::string> hosts_of(const Publications& out) {
  std::vector<std::string> ids;
  for (const auto& c : out.configs) ids.push_back(c.host_id);
  return ids;
}

TEST(Generator, FirstStatePublishesEveryHostThatIsNotDown) {
  Generator g(default_template(), 2000);
  EXPECT_FALSE(g.has_state());
  msg::State state = web_state(7);
  state.hosts.push_back(host("h3", "127.0.0.3"));
  state.hosts.back().status = "down";
  state.hosts[1].status = "suspect";
  state.instances.push_back(instance("web-2", "web", "h2", "127.100.1.2"));
  auto published = g.on_state(state, 1000);
  const auto& out = published.configs;
  EXPECT_TRUE(g.has_state());
  // h2 has missed heartbeats: it may only be slow, so it keeps its config, and its instance stays a
  // server everywhere (HAProxy's checks judge whether it answers).
  ASSERT_EQ(hosts_of(published), (std::vector<std::string>{"h1", "h2"}));
  EXPECT_NE(out[0].haproxy_cfg.find("server web-2 127.100.1.2:8000 check"), std::string::npos);
  EXPECT_EQ(out[0].state_revision, 7);
  EXPECT_EQ(out[0].hash, config_hash(out[0].haproxy_cfg));
  EXPECT_EQ(out[0].spec.host_id, "h1");
  EXPECT_EQ(out[0].spec.backends.at(0).servers.size(), 2u);
  EXPECT_NE(out[0].haproxy_cfg.find("bind 127.0.0.1:8080"), std::string::npos);
  EXPECT_NE(out[1].haproxy_cfg.find("bind 127.0.0.2:8080"), std::string::npos);
  EXPECT_NE(out[0].hash, out[1].hash);
}

TEST(Generator, PublishesAgainOnlyWhenTheHashChanges) {
  Generator g(default_template(), 2000);
  g.on_state(web_state(1), 1000);
  auto same = g.on_state(web_state(2), 1100);
  EXPECT_TRUE(same.configs.empty()) << "same config, new revision: nothing new";
  EXPECT_FALSE(same.spec) << "same spec: no update";

  msg::State scaled = web_state(3);
  scaled.instances.push_back(instance("web-2", "web", "h2", "127.100.1.2"));
  auto published = g.on_state(scaled, 1200);
  ASSERT_EQ(hosts_of(published), (std::vector<std::string>{"h1", "h2"}));
  const auto& out = published.configs;
  EXPECT_EQ(out[0].state_revision, 3);
  EXPECT_NE(out[0].haproxy_cfg.find("server web-2 127.100.1.2:8000 check"), std::string::npos);

  msg::State starting = scaled;
  starting.revision = 4;
  starting.instances.push_back(instance("web-3", "web", "h1", "127.100.0.3", "starting"));
  EXPECT_TRUE(g.on_state(starting, 1300).configs.empty()) << "an instance that is not running changes nothing";
}

TEST(Generator, RepublishesTheLatestConfigsOnSchedule) {
  Generator g(default_template(), 2000);
  EXPECT_TRUE(g.due(0).configs.empty()) << "nothing before a first state";
  EXPECT_FALSE(g.due(100000).spec);
  g.on_state(web_state(1), 1000);
  EXPECT_TRUE(g.due(1000).configs.empty());
  EXPECT_FALSE(g.due(2999).spec);
  g.on_state(web_state(5), 2500);  // unchanged config, newer revision
  auto published = g.due(3000);
  ASSERT_EQ(hosts_of(published), (std::vector<std::string>{"h1", "h2"}));
  EXPECT_EQ(published.configs[0].state_revision, 5) << "republished configs carry the latest revision";
  ASSERT_TRUE(published.spec) << "and the spec's beacon";
  EXPECT_EQ(published.spec->base, published.spec->hash) << "a beacon changes nothing";
  EXPECT_TRUE(published.spec->backends.empty());
  EXPECT_TRUE(g.due(4999).configs.empty());
  EXPECT_EQ(g.due(5000).configs.size(), 2u);
}

TEST(Generator, ForgetsHostsThatGoDownAndPublishesThemWhenTheyReturn) {
  Generator g(default_template(), 2000);
  g.on_state(web_state(1), 0);
  msg::State down = web_state(2);
  down.hosts[1].status = "down";
  EXPECT_TRUE(g.on_state(down, 100).configs.empty());
  EXPECT_EQ(hosts_of(g.due(2000)), (std::vector<std::string>{"h1"}));
  msg::State gone = web_state(3);
  gone.hosts.pop_back();
  EXPECT_TRUE(g.on_state(gone, 2100).configs.empty());
  EXPECT_EQ(hosts_of(g.on_state(web_state(4), 2200)), (std::vector<std::string>{"h2"}));
}

TEST(Generator, SkipsAHostWhoseRecordCannotGoIntoAConfig) {
  Generator g(default_template(), 2000);
  msg::State state = web_state(1);
  state.hosts[0].haproxy_socket = "/tmp/x\n    stats socket /tmp/evil";
  EXPECT_EQ(hosts_of(g.on_state(state, 0)), (std::vector<std::string>{"h2"}));
}

TEST(Generator, UsesItsTemplate) {
  Generator g("host={{host_id}}{{#backends}} {{name}}{{/backends}}\n", 2000);
  auto out = g.on_state(web_state(1), 0).configs;
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].haproxy_cfg, "host=h1 app_web_8000\n");
}

TEST(Generator, BuildsTheSpecOnceForTheFleetAndRendersOnlyForHostsThatDoNotRenderTheirOwn) {
  Generator g(default_template(), 2000);
  msg::State state = web_state(1);
  state.hosts[0].renders_lb = true;
  auto first = g.on_state(state, 0);
  EXPECT_EQ(hosts_of(first), (std::vector<std::string>{"h2"})) << "h1's agent renders from lb.spec";
  ASSERT_TRUE(first.spec);
  EXPECT_TRUE(first.spec->base.empty()) << "the first spec is whole";
  EXPECT_EQ(first.spec->template_text, default_template());
  ASSERT_EQ(first.spec->backends.size(), 1u);
  EXPECT_EQ(first.spec->backends[0].backend.servers.size(), 1u);
  lb::FleetSpec agent;
  ASSERT_TRUE(lb::apply(agent, *first.spec).ok());
  // What h1 renders from the spec is what lbgen renders for a host with h1's fields.
  msg::LbSpec own =
      lb::for_host(agent, "h1", state.hosts[0].address, state.hosts[0].haproxy_socket, state.hosts[0].stats_port);
  state.hosts[0].renders_lb = false;
  Generator reference(default_template(), 2000);
  const auto rendered = reference.on_state(state, 0).configs;
  ASSERT_EQ(rendered.size(), 2u);
  EXPECT_EQ(*render(own, agent.template_text), rendered[0].haproxy_cfg);

  msg::State scaled = web_state(2);
  scaled.hosts[0].renders_lb = true;
  scaled.instances.push_back(instance("web-2", "web", "h2", "127.100.1.2"));
  auto next = g.on_state(scaled, 100);
  ASSERT_TRUE(next.spec);
  EXPECT_EQ(next.spec->base, first.spec->hash) << "a change goes out as a delta of the last spec";
  ASSERT_EQ(next.spec->backends.size(), 1u);
  EXPECT_TRUE(lb::apply(agent, *next.spec).ok());
  EXPECT_EQ(agent.hash, next.spec->hash);
  ASSERT_TRUE(g.whole());
  EXPECT_EQ(g.whole()->hash, next.spec->hash);
}

}  // namespace
}  // namespace pier::lbgen
