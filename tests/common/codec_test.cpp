#include "common/codec.h"

#include <gtest/gtest.h>

#include <random>

#include "common/messages.h"

namespace pier {
namespace {

msg::AppSpec sample_spec() {
  msg::AppSpec spec;
  spec.name = "web";
  spec.image = "pier/demo-app";
  spec.tag = "0.1.0";
  spec.command = {"pier-demo-app", "--mode", "http"};
  spec.ports = {{8080, 80}, {8443, 443}};
  spec.protocol = "http";
  spec.replicas = 3;
  spec.cpu = 0.5;
  spec.memory_bytes = 64LL << 20;
  spec.env = {{"FOO", "bar"}, {"EMPTY", ""}};
  spec.context_path = "/api";
  spec.algorithm = "leastconn";
  return spec;
}

TEST(Codec, RoundTripKeepsEveryField) {
  msg::DeployCommand cmd{sample_spec()};
  auto decoded = codec::decode<msg::DeployCommand>(codec::encode(cmd));
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  const auto& a = decoded->app;
  EXPECT_EQ(a.name, "web");
  EXPECT_EQ(a.image, "pier/demo-app");
  EXPECT_EQ(a.tag, "0.1.0");
  EXPECT_EQ(a.command, (std::vector<std::string>{"pier-demo-app", "--mode", "http"}));
  ASSERT_EQ(a.ports.size(), 2u);
  EXPECT_EQ(a.ports[1].external, 8443);
  EXPECT_EQ(a.ports[1].internal, 443);
  EXPECT_EQ(a.replicas, 3);
  EXPECT_DOUBLE_EQ(a.cpu, 0.5);
  EXPECT_EQ(a.memory_bytes, 64LL << 20);
  EXPECT_EQ(a.env.at("FOO"), "bar");
  EXPECT_EQ(a.context_path, "/api");
  EXPECT_EQ(a.algorithm, "leastconn");
}

TEST(Codec, RoundTripState) {
  msg::State state;
  state.revision = 42;
  state.hosts.push_back({});
  state.hosts[0].id = "h1";
  state.hosts[0].lb.servers = {"web-1"};
  state.instances.push_back({});
  state.instances[0].id = "web-1";
  state.instances[0].state = "running";
  auto decoded = codec::decode<msg::State>(codec::encode(state));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->revision, 42);
  EXPECT_EQ(decoded->hosts.at(0).lb.servers.at(0), "web-1");
  EXPECT_EQ(decoded->instances.at(0).state, "running");
}

// A newer sender adds a field: older readers ignore it.
struct ScaleCommandV2 {
  std::string app;
  int replicas = 0;
  std::string reason;
  MSGPACK_DEFINE_MAP(app, replicas, reason);
};

TEST(Codec, UnknownKeysAreIgnored) {
  auto decoded = codec::decode<msg::ScaleCommand>(codec::encode(ScaleCommandV2{"web", 4, "load"}));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->app, "web");
  EXPECT_EQ(decoded->replicas, 4);
}

struct OnlyName {
  std::string name;
  MSGPACK_DEFINE_MAP(name);
};

TEST(Codec, MissingKeysTakeDefaults) {
  auto decoded = codec::decode<msg::AppSpec>(codec::encode(OnlyName{"web"}));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->name, "web");
  EXPECT_EQ(decoded->protocol, "http");
  EXPECT_EQ(decoded->replicas, 1);
  EXPECT_EQ(decoded->context_path, "/");
  EXPECT_EQ(decoded->algorithm, "roundrobin");
}

TEST(Codec, TruncatedBytesAreRejected) {
  const std::string bytes = codec::encode(msg::DeployCommand{sample_spec()});
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto decoded = codec::decode<msg::DeployCommand>(std::string_view(bytes).substr(0, n));
    EXPECT_FALSE(decoded.ok()) << "prefix of " << n << " bytes decoded";
  }
}

TEST(Codec, TrailingBytesAreRejected) {
  std::string bytes = codec::encode(msg::ScaleCommand{"web", 2});
  bytes.push_back('\x01');
  EXPECT_FALSE(codec::decode<msg::ScaleCommand>(bytes).ok());
}

TEST(Codec, WrongTypesAreRejected) {
  std::map<std::string, std::string> wrong{{"replicas", "three"}};
  auto decoded = codec::decode<msg::ScaleCommand>(codec::encode(wrong));
  EXPECT_FALSE(decoded.ok());
  EXPECT_FALSE(codec::decode<msg::ScaleCommand>(codec::encode(std::vector<int>{1, 2})).ok());
}

TEST(Codec, HugeDeclaredSizesAreRejectedWithoutAllocating) {
  // A map32 header claiming 4 billion entries, and a str32 claiming 4 GiB, each with no payload.
  const std::string huge_map("\xdf\xff\xff\xff\xff", 5);
  const std::string huge_str("\xdb\xff\xff\xff\xff", 5);
  EXPECT_FALSE(codec::decode<msg::State>(huge_map).ok());
  EXPECT_FALSE(codec::decode<msg::State>(huge_str).ok());
}

TEST(Codec, CountsLargerThanTheFrameAreRejected) {
  // An array32 header claiming 100,000 entries in a 5-byte frame: msgpack-c would reserve 2.4 MB for it
  // before reading one; nested 32 deep, ~77 MB for 160 bytes (maps: ~150 MB; seen profiling tests/fuzz's codec).
  std::string nested;
  for (int i = 0; i < 32; ++i) nested += std::string("\xdd\x00\x01\x86\xa0", 5);
  EXPECT_FALSE(codec::decode<msg::State>(nested).ok());
  // A frame that really holds that many entries still decodes.
  std::map<std::string, std::vector<int>> big{{"revision_list", std::vector<int>(100'000, 1)}};
  EXPECT_TRUE(codec::decode<msg::State>(codec::encode(big)).ok());
}

// A map {"app": {<key>: <value>, "name": "web"}} as a hostile publisher sends it.
template <typename V>
std::string deploy_with(const std::string& key, const V& value) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> pk(buffer);
  pk.pack_map(1);
  pk.pack(std::string("app"));
  pk.pack_map(2);
  pk.pack(std::string("name"));
  pk.pack(std::string("web"));
  pk.pack(key);
  pk.pack(value);
  return std::string(buffer.data(), buffer.size());
}

TEST(Codec, AValueOfTheWrongTypeIsNamed) {
  auto lots = codec::decode<msg::DeployCommand>(deploy_with("memory_bytes", std::string("lots")));
  ASSERT_FALSE(lots.ok());
  EXPECT_EQ(lots.status().field(), "app.memory_bytes");
  EXPECT_EQ(lots.status().rule(), "must be an integer, not a string");

  auto cpu = codec::decode<msg::DeployCommand>(deploy_with("cpu", true));
  ASSERT_FALSE(cpu.ok());
  EXPECT_EQ(cpu.status().field(), "app.cpu");
  EXPECT_EQ(cpu.status().rule(), "must be a number, not a boolean");

  // Beyond an int's range: the type is right, the value is not.
  auto replicas = codec::decode<msg::DeployCommand>(deploy_with("replicas", int64_t{1} << 40));
  ASSERT_FALSE(replicas.ok());
  EXPECT_EQ(replicas.status().field(), "app.replicas");
  EXPECT_EQ(replicas.status().rule(), "is out of range for this field");

  auto env = codec::decode<msg::DeployCommand>(deploy_with("env", std::map<std::string, int>{{"A", 1}}));
  ASSERT_FALSE(env.ok());
  EXPECT_EQ(env.status().field(), "app.env.A");

  auto not_a_map = codec::decode<msg::DeployCommand>(deploy_with("autoscale", std::string("on")));
  ASSERT_FALSE(not_a_map.ok());
  EXPECT_EQ(not_a_map.status().field(), "app.autoscale");
  EXPECT_EQ(not_a_map.status().rule(), "must be a map, not a string");
}

TEST(Codec, AnElementOfTheWrongTypeIsNamedWithItsIndex) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> pk(buffer);
  pk.pack_map(1);
  pk.pack(std::string("app"));
  pk.pack_map(1);
  pk.pack(std::string("ports"));
  pk.pack_array(2);
  pk.pack(msg::PortMapping{8080, 80});
  pk.pack_map(1);
  pk.pack(std::string("external"));
  pk.pack(std::string("8081"));
  auto decoded = codec::decode<msg::DeployCommand>(std::string_view(buffer.data(), buffer.size()));
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().field(), "app.ports[1].external");
  EXPECT_NE(decoded.status().rule().find("a string"), std::string::npos) << decoded.status().rule();
}

TEST(Codec, AHostileKeyIsNamedPrintablyAndShort) {
  const std::string key = "A\nB" + std::string(200, 'x');
  auto decoded = codec::decode<msg::DeployCommand>(deploy_with("env", std::map<std::string, int>{{key, 1}}));
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().field(), "app.env.A?B" + std::string(61, 'x'));
}

TEST(Codec, DeepNestingIsRejected) {
  std::string bytes(1000, '\x91');  // 1000 nested one-element arrays
  bytes.push_back('\x00');
  auto decoded = codec::decode<msg::State>(bytes);
  ASSERT_FALSE(decoded.ok());
}

TEST(Codec, RandomBytesNeverCrash) {
  std::mt19937 rng(1234);
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes(rng() % 64, '\0');
    for (auto& c : bytes) c = static_cast<char>(rng());
    if (codec::decode<msg::State>(bytes).ok()) ++accepted;
  }
  // Random bytes are almost never a well-formed map; the point is that none of them crashed.
  EXPECT_LT(accepted, 20000 / 10);
}

}  // namespace
}  // namespace pier
