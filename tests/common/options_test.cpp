#include "common/options.h"

#include <gtest/gtest.h>

#include "common/keys.h"
#include "tests/support/temp_dir.h"

namespace pier::options {
namespace {

// Parses `args` against add_bus's options; returns the error text, empty when it parsed.
std::string parse_bus(std::vector<std::string> args, bus::Endpoints& endpoints,
                      PlaintextBus plaintext = PlaintextBus::allowed) {
  po::options_description desc;
  add_bus(desc, endpoints, plaintext);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return e.what();
  }
  return {};
}

struct KeyFiles {
  testing::TempDir dir;
  keys::KeyPair client = *keys::generate();
  keys::KeyPair server = *keys::generate();
  KeyFiles() {
    EXPECT_TRUE(keys::write_pair(dir.path(), "web-1", "agent", client).ok());
    EXPECT_TRUE(keys::write_pair(dir.path(), "bus", "bus", server).ok());
  }
};

TEST(BusOptions, KeysAreReadIntoTheEndpoints) {
  KeyFiles files;
  bus::Endpoints endpoints;
  EXPECT_EQ(
      parse_bus({"--curve-secret", files.dir.path() + "/web-1.key", "--bus-public-key", files.dir.path() + "/bus.pub"},
                endpoints),
      "");
  ASSERT_TRUE(endpoints.curve.has_value());
  EXPECT_EQ(endpoints.curve->public_key, files.client.public_key);
  EXPECT_EQ(endpoints.curve->secret_key, files.client.secret_key);
  EXPECT_EQ(endpoints.curve->server_key, files.server.public_key);
  bus::Endpoints inline_key;
  EXPECT_EQ(parse_bus({"--curve-secret", files.dir.path() + "/web-1.key", "--bus-public-key", files.server.public_key},
                      inline_key),
            "");
  EXPECT_EQ(inline_key.curve->server_key, files.server.public_key);
}

TEST(BusOptions, HalfTheKeysOrABadKeyIsAnErrorNamingTheOption) {
  KeyFiles files;
  bus::Endpoints endpoints;
  EXPECT_NE(parse_bus({"--curve-secret", files.dir.path() + "/web-1.key"}, endpoints).find("needs --bus-public-key"),
            std::string::npos);
  EXPECT_NE(parse_bus({"--bus-public-key", files.server.public_key}, endpoints).find("needs --curve-secret"),
            std::string::npos);
  EXPECT_NE(parse_bus({"--curve-secret", files.dir.path() + "/bus.pub", "--bus-public-key", files.server.public_key},
                      endpoints)
                .find("group or others"),
            std::string::npos);
  EXPECT_NE(parse_bus({"--curve-secret", files.dir.path() + "/web-1.key", "--bus-public-key", "nope"}, endpoints)
                .find("--bus-public-key: nope"),
            std::string::npos);
  EXPECT_FALSE(endpoints.curve.has_value());
}

TEST(BusOptions, PlaintextOffLoopbackNeedsInsecureBusWhereAsked) {
  bus::Endpoints endpoints;
  const std::vector<std::string> remote = {"--bus-pub", "tcp://10.0.0.5:7701", "--bus-sub", "tcp://10.0.0.5:7702"};
  EXPECT_EQ(parse_bus(remote, endpoints), "");  // a process that did not ask for the rule
  const std::string refused = parse_bus(remote, endpoints, PlaintextBus::loopback_only);
  EXPECT_NE(refused.find("not on loopback"), std::string::npos) << refused;
  EXPECT_NE(refused.find("--insecure-bus"), std::string::npos) << refused;
  auto insecure = remote;
  insecure.push_back("--insecure-bus");
  EXPECT_EQ(parse_bus(insecure, endpoints, PlaintextBus::loopback_only), "");
  bus::Endpoints defaults;
  EXPECT_EQ(parse_bus({}, defaults, PlaintextBus::loopback_only), "");  // 127.0.0.1
}

TEST(BusOptions, LocalEndpoints) {
  EXPECT_TRUE(local_endpoint("tcp://127.0.0.1:7701"));
  EXPECT_TRUE(local_endpoint("tcp://127.5.6.7:1"));
  EXPECT_TRUE(local_endpoint("tcp://localhost:1"));
  EXPECT_TRUE(local_endpoint("ipc:///tmp/bus"));
  EXPECT_FALSE(local_endpoint("tcp://10.0.0.1:7701"));
  EXPECT_FALSE(local_endpoint("tcp://*:7701"));
  EXPECT_FALSE(local_endpoint("tcp://bus.example:7701"));
  EXPECT_FALSE(local_endpoint("tcp://10.0.0.1:5;127.0.0.1:7701"));
}

}  // namespace
}  // namespace pier::options
