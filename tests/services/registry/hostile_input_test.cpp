// The hostile values of tests/support/hostile_values.h straight onto the registry's bus handler, as
// anyone who reaches pier-bus can publish them (a raw cmd.deploy, encoded as the CLI would, with no
// CLI-side check): every one refused with a reply naming the field, nothing stored, and the haproxy.cfg
// lbgen renders from the state byte for byte what it was before.
#include <gtest/gtest.h>

#include "common/codec.h"
#include "common/topics.h"
#include "services/lbgen/lb_spec.h"
#include "services/lbgen/render.h"
#include "services/registry/dispatch.h"
#include "tests/services/registry/fixture.h"
#include "tests/support/hostile_values.h"

namespace pier::registry {
namespace {

msg::AppSpec good_spec(const std::string& name) {
  msg::AppSpec spec = demo(name);
  spec.context_path = "/" + name;
  return spec;
}

msg::HostStatus good_host(const std::string& id) {
  msg::HostStatus h = host(id);
  h.haproxy_socket = "/run/pier/" + id + "/haproxy.sock";
  return h;
}

class HostileInputBus : public ::testing::Test {
 protected:
  ManualClock clock;
  std::unique_ptr<SqliteStore> store = open_store();
  Registry reg{*store, clock, Config{}};
  int request = 0;

  bus::Envelope envelope(const std::string& topic, std::string body) {
    bus::Envelope e;
    e.topic = topic;
    // A heartbeat comes from its host's agent (the registry takes it from no one else).
    const std::string heartbeat = "agent.heartbeat.";
    e.header.sender = topic.rfind(heartbeat, 0) == 0 ? "agent/" + topic.substr(heartbeat.size()) : "intruder";
    e.header.seq = static_cast<uint64_t>(++request);
    e.header.request_id = "req-" + std::to_string(request);
    e.body = std::move(body);
    return e;
  }

  // The reply to a command published on `topic`.
  msg::Reply command(std::string_view topic, const std::string& body) {
    Handled handled = dispatch(reg, envelope(std::string(topic), body));
    if (handled.out.size() != 1) {
      ADD_FAILURE() << "no single reply on " << topic;
      return {};
    }
    EXPECT_EQ(handled.out[0].topic, "reply.intruder");
    auto reply = codec::decode<msg::Reply>(handled.out[0].body);
    return reply.ok() ? *reply : msg::Reply{};
  }

  // What lbgen renders for host-a from the registry's state now.
  std::string rendered() {
    const msg::HostRecord& host = reg.state().hosts.at(0);
    auto text = lbgen::render(lbgen::build_spec(reg.state(), host), lbgen::default_template());
    EXPECT_TRUE(text.ok()) << text.status().message();
    return text.ok() ? *text : std::string();
  }

  void SetUp() override {
    ASSERT_TRUE(dispatch(reg, envelope(topic::heartbeat("host-a"), codec::encode(good_host("host-a")))).state_changed);
    ASSERT_TRUE(command(topic::kDeploy, codec::encode(msg::DeployCommand{good_spec("web")})).ok);
  }
};

TEST_F(HostileInputBus, EveryHostileDeployIsRefusedNamingTheFieldAndTheConfigStaysTheSame) {
  const std::string before = rendered();
  const int64_t revision = reg.state().revision;
  ASSERT_NE(before.find("backend app_web_8000"), std::string::npos);
  int refused = 0;
  for (const auto& field : test::app_spec_fields()) {
    for (const auto& hostile : test::hostile_values()) {
      for (const auto& value : test::tries(field, hostile)) {
        if (!test::must_refuse(field, hostile, value)) continue;  // inert data: tests/common/hostile_input_test
        msg::AppSpec spec = good_spec("api");
        field.set(spec, value);
        const msg::Reply reply = command(topic::kDeploy, codec::encode(msg::DeployCommand{spec}));
        EXPECT_FALSE(reply.ok) << field.name << " accepted " << hostile.what;
        EXPECT_EQ(reply.field, field.name) << hostile.what << ": " << reply.message;
        EXPECT_EQ(reply.revision, revision);
        refused += !reply.ok;
      }
    }
  }
  EXPECT_GT(refused, 400);
  EXPECT_EQ(reg.state().revision, revision);
  ASSERT_EQ(reg.state().apps.size(), 1u);
  EXPECT_EQ(rendered(), before);
}

TEST_F(HostileInputBus, HostileAppNamesInScaleAndRemoveAreRefusedNamingTheApp) {
  const int64_t revision = reg.state().revision;
  for (const auto& hostile : test::hostile_values()) {
    const msg::Reply scaled = command(topic::kScale, codec::encode(msg::ScaleCommand{hostile.value, 2}));
    EXPECT_FALSE(scaled.ok) << hostile.what;
    EXPECT_EQ(scaled.field, "app") << hostile.what;
    // The refusal never echoes the value: a reply is printed to a terminal, a log line to a log.
    if (hostile.value.size() > 1) {
      EXPECT_EQ(scaled.message.find(hostile.value), std::string::npos) << hostile.what;
    }
    const msg::Reply removed = command(topic::kRemove, codec::encode(msg::RemoveCommand{hostile.value}));
    EXPECT_FALSE(removed.ok) << hostile.what;
    EXPECT_EQ(removed.field, "app") << hostile.what;
    const msg::Reply listed = command(topic::kScale, codec::encode(msg::ScaleCommand{"web", 2, {hostile.value}}));
    EXPECT_FALSE(listed.ok) << hostile.what;
    EXPECT_EQ(listed.field, "remove_first[0]") << hostile.what;
  }
  EXPECT_EQ(reg.state().revision, revision);
}

TEST_F(HostileInputBus, HostileHeartbeatFieldsAreRefusedNamingTheFieldAndRegisterNothing) {
  const std::string before = rendered();
  for (const auto& hostile : test::hostile_values()) {
    const struct {
      const char* field;
      std::function<void(msg::HostStatus&)> set;
    } cases[] = {
        {"host_id", [&](msg::HostStatus& h) { h.host_id = hostile.value; }},
        {"address", [&](msg::HostStatus& h) { h.address = hostile.value.empty() ? "x" : hostile.value; }},
        {"haproxy_socket", [&](msg::HostStatus& h) { h.haproxy_socket = "/run/pier/" + hostile.value; }},
    };
    for (const auto& c : cases) {
      if (std::string(c.field) == "haproxy_socket" && !hostile.breaks_path) continue;
      msg::HostStatus status = good_host("host-b");
      c.set(status);
      Handled handled = dispatch(reg, envelope(topic::heartbeat(status.host_id), codec::encode(status)));
      if (std::string(c.field) == "host_id") {
        // No name to answer or list it under: dropped and counted as malformed.
        EXPECT_FALSE(handled.rejected.ok()) << c.field << " accepted " << hostile.what;
        EXPECT_EQ(handled.rejected.field(), c.field) << hostile.what << ": " << handled.rejected.message();
        EXPECT_TRUE(handled.out.empty());
        continue;
      }
      // A host with a good name is refused: told why on its reply topic, listed as refused.
      EXPECT_TRUE(handled.rejected.ok()) << c.field << " " << hostile.what << ": " << handled.rejected.message();
      ASSERT_EQ(handled.out.size(), 1u) << c.field << " " << hostile.what;
      EXPECT_EQ(handled.out[0].topic, "reply.agent/host-b");
      auto reply = codec::decode<msg::Reply>(handled.out[0].body);
      ASSERT_TRUE(reply.ok());
      EXPECT_EQ(reply->field, c.field) << hostile.what;
      if (hostile.value.size() > 1) {
        EXPECT_EQ(reply->message.find(hostile.value), std::string::npos) << hostile.what;
      }
      ASSERT_EQ(reg.state().refused_hosts.size(), 1u);
      EXPECT_EQ(reg.state().refused_hosts[0].field, c.field);
    }
  }
  EXPECT_EQ(reg.state().hosts.size(), 1u);
  EXPECT_EQ(rendered(), before);
}

TEST_F(HostileInputBus, AMemoryOfLotsIsRefusedNamingTheField) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> pk(buffer);
  pk.pack_map(1);
  pk.pack(std::string("app"));
  pk.pack_map(4);
  pk.pack(std::string("name"));
  pk.pack(std::string("api"));
  pk.pack(std::string("image"));
  pk.pack(std::string("pier/demo-app"));
  pk.pack(std::string("ports"));
  pk.pack(std::vector<msg::PortMapping>{{9090, 8000}});
  pk.pack(std::string("memory_bytes"));
  pk.pack(std::string("lots"));
  const msg::Reply reply = command(topic::kDeploy, std::string(buffer.data(), buffer.size()));
  EXPECT_FALSE(reply.ok);
  EXPECT_EQ(reply.field, "app.memory_bytes");
  EXPECT_EQ(reply.rule, "must be an integer, not a string");
  EXPECT_EQ(reg.state().apps.size(), 1u);
}

}  // namespace
}  // namespace pier::registry
