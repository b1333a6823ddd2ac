// The registry's message handler: what it answers to commands whose body does not decode.
#include "services/registry/dispatch.h"

#include <gtest/gtest.h>

#include "common/codec.h"
#include "common/topics.h"
#include "tests/services/registry/fixture.h"

namespace pier::registry {
namespace {

// {key: value} as msgpack, or {outer: {key: value}} when `outer` is given.
template <typename V>
std::string body_with(const std::string& key, const V& value, const std::string& outer = "") {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> pk(buffer);
  if (!outer.empty()) {
    pk.pack_map(1);
    pk.pack(outer);
  }
  pk.pack_map(1);
  pk.pack(key);
  pk.pack(value);
  return std::string(buffer.data(), buffer.size());
}

class UndecodableCommandTest : public ::testing::Test {
 protected:
  ManualClock clock;
  std::unique_ptr<SqliteStore> store = open_store();
  Registry reg{*store, clock, Config{}};

  bus::Envelope envelope(std::string_view topic, std::string body, std::string request_id = "req-1") {
    bus::Envelope e;
    e.topic = std::string(topic);
    e.header.sender = "cli-42-abcd0123";
    e.header.seq = 1;
    e.header.request_id = std::move(request_id);
    e.body = std::move(body);
    return e;
  }

  // The one reply `handled` carries, decoded, after checking it goes to the sender with the request id.
  msg::Reply only_reply(const Handled& handled) {
    EXPECT_EQ(handled.out.size(), 1u);
    if (handled.out.empty()) return {};
    EXPECT_EQ(handled.out[0].topic, "reply.cli-42-abcd0123");
    EXPECT_EQ(handled.out[0].request_id, "req-1");
    auto reply = codec::decode<msg::Reply>(handled.out[0].body);
    EXPECT_TRUE(reply.ok()) << reply.status().message();
    return reply.ok() ? *reply : msg::Reply{};
  }
};

TEST_F(UndecodableCommandTest, DeployWhoseMemoryIsAStringIsRefusedNamingTheField) {
  const int64_t before = reg.state().revision;
  Handled handled = dispatch(reg, envelope(topic::kDeploy, body_with("memory_bytes", std::string("lots"), "app")));
  EXPECT_FALSE(handled.rejected.ok()) << "still counted and logged as malformed";
  EXPECT_FALSE(handled.state_changed);
  const msg::Reply reply = only_reply(handled);
  EXPECT_FALSE(reply.ok);
  EXPECT_EQ(reply.request_id, "req-1");
  EXPECT_EQ(reply.field, "app.memory_bytes");
  EXPECT_EQ(reply.rule, "must be an integer, not a string");
  EXPECT_EQ(reply.message, "app.memory_bytes: must be an integer, not a string");
  EXPECT_EQ(reply.revision, before);
  EXPECT_TRUE(reg.state().apps.empty());
  EXPECT_EQ(reg.state().revision, before);
}

TEST_F(UndecodableCommandTest, EveryCommandTopicAnswersNamingTheField) {
  const struct {
    std::string_view topic;
    std::string body;
    std::string field;
  } cases[] = {
      {topic::kScale, body_with("replicas", std::string("three")), "replicas"},
      {topic::kScale, body_with("remove_first", 7), "remove_first"},
      {topic::kRemove, body_with("app", 5), "app"},
      {topic::kPlace, body_with("assignments", std::string("all of them")), "assignments"},
      {topic::kPlace, body_with("state_revision", 1.5), "state_revision"},
      {topic::kDeploy, body_with("ports", std::vector<std::string>{"8080:80"}, "app"), "app.ports[0]"},
      {topic::kDeploy, std::string("\xc1garbage"), "body"},  // 0xc1 is never valid msgpack
      {topic::kDeploy, codec::encode(std::vector<int>{1, 2}), "body"},
  };
  for (const auto& c : cases) {
    Handled handled = dispatch(reg, envelope(c.topic, c.body));
    EXPECT_FALSE(handled.rejected.ok()) << c.topic;
    const msg::Reply reply = only_reply(handled);
    EXPECT_FALSE(reply.ok) << c.topic;
    EXPECT_EQ(reply.field, c.field) << c.topic << ": " << reply.message;
    EXPECT_FALSE(reply.rule.empty()) << c.topic;
  }
  EXPECT_EQ(reg.state().revision, 0);
}

TEST_F(UndecodableCommandTest, WithoutARequestIdThereIsNoOneToAnswer) {
  Handled handled = dispatch(reg, envelope(topic::kDeploy, body_with("memory_bytes", std::string("lots"), "app"), ""));
  EXPECT_FALSE(handled.rejected.ok());
  EXPECT_TRUE(handled.out.empty());
}

TEST_F(UndecodableCommandTest, ASnapshotRequestThatDoesNotDecodeStillAsksForTheState) {
  Handled handled = dispatch(reg, envelope(topic::kSnapshot, body_with("reason", 12)));
  EXPECT_FALSE(handled.rejected.ok());
  EXPECT_TRUE(handled.snapshot_requested);
  EXPECT_TRUE(handled.out.empty());
}

TEST(RefusedHeartbeatTest, IsAnsweredOnTheAgentsReplyTopicAndListedNotCountedAsMalformed) {
  ManualClock clock;
  Config config;
  config.platform_network = "127.5.0.0/23";  // room for two hosts
  auto store = open_store();
  Registry reg{*store, clock, config};
  auto beat = [&](const std::string& id) {
    bus::Envelope e;
    e.topic = topic::heartbeat(id);
    e.header.sender = "agent/" + id;
    e.header.seq = 1;
    e.body = codec::encode(host(id));
    return dispatch(reg, e);
  };
  for (const char* id : {"h1", "h2"}) {
    Handled accepted = beat(id);
    EXPECT_TRUE(accepted.rejected.ok());
    EXPECT_TRUE(accepted.out.empty()) << "an accepted heartbeat gets no answer";
  }

  Handled refused = beat("h3");
  EXPECT_TRUE(refused.rejected.ok()) << "a refusal, not a malformed message: " << refused.rejected.message();
  EXPECT_TRUE(refused.state_changed) << "the refused list changed: publish it";
  ASSERT_EQ(refused.out.size(), 1u);
  EXPECT_EQ(refused.out[0].topic, "reply.agent/h3");
  auto reply = codec::decode<msg::Reply>(refused.out[0].body);
  ASSERT_TRUE(reply.ok());
  EXPECT_FALSE(reply->ok);
  EXPECT_NE(reply->message.find("no subnet left"), std::string::npos) << reply->message;
  ASSERT_EQ(reg.state().refused_hosts.size(), 1u);
  EXPECT_EQ(reg.state().refused_hosts[0].host_id, "h3");
  EXPECT_EQ(reg.state().refused_hosts[0].reason, reply->message);

  Handled again = beat("h3");
  EXPECT_FALSE(again.state_changed) << "the same refusal again changes nothing worth publishing";
  EXPECT_EQ(again.out.size(), 1u) << "but the agent is told every time";
}

}  // namespace
}  // namespace pier::registry
