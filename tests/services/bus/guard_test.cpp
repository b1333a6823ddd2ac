// The ZAP answers and the guard's reloads, without sockets (the e2e tests drive the real bus).
#include "services/bus/guard.h"

#include <gtest/gtest.h>

#include <fstream>

#include "services/bus/zap_handler.h"
#include "tests/support/temp_dir.h"

namespace pier::bus_proxy {
namespace {

std::string raw(const std::string& z85) {
  std::string out(32, '\0');
  zmq_z85_decode(reinterpret_cast<uint8_t*>(out.data()), z85.c_str());
  return out;
}

TEST(Zap, AdmitsAllowlistedCurveKeysOnOurDomainsOnly) {
  const auto known = *keys::generate(), stranger = *keys::generate();
  auto list = *keys::Allowlist::parse(known.public_key + " web-1 agent\n");
  auto request = [&](std::string domain, std::string mechanism, std::string credentials) {
    return std::vector<std::string>{
        "1.0", "7", std::move(domain), "127.0.0.1", "", std::move(mechanism), std::move(credentials)};
  };
  const auto ok = judge_zap(list, request(kPublishersDomain, "CURVE", raw(known.public_key)));
  EXPECT_EQ(ok.status_code, "200");
  EXPECT_EQ(ok.user_id, "web-1");
  EXPECT_EQ(judge_zap(list, request(kSubscribersDomain, "CURVE", raw(known.public_key))).status_code, "200");
  EXPECT_EQ(judge_zap(list, request(kPublishersDomain, "CURVE", raw(stranger.public_key))).status_code, "400");
  EXPECT_EQ(judge_zap(list, request("", "CURVE", raw(known.public_key))).status_code, "400");
  EXPECT_EQ(judge_zap(list, request("other", "CURVE", raw(known.public_key))).status_code, "400");
  EXPECT_EQ(judge_zap(list, {"1.0", "7", kPublishersDomain, "127.0.0.1", "", "NULL"}).status_code, "400");
  EXPECT_EQ(judge_zap(list, request(kPublishersDomain, "PLAIN", "user")).status_code, "400");
  EXPECT_EQ(judge_zap(list, request(kPublishersDomain, "CURVE", "short")).status_code, "400");
  EXPECT_EQ(judge_zap(list, {"2.0"}).status_code, "400");
}

TEST(Guard, ReloadRevokesRemovedOrChangedKeysAndKeepsTheOldListOnABadFile) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/allow";
  const auto a = *keys::generate(), b = *keys::generate();
  KeyRing ring(*keys::Allowlist::parse(a.public_key + " web-1 agent\n" + b.public_key + " alice operator\n"));
  Guard guard(ring);
  bool revoked = true;

  std::ofstream(path) << a.public_key << " web-1 agent\n"
                      << b.public_key << " alice operator\n"
                      << keys::generate()->public_key << " web-2 agent\n";
  ASSERT_TRUE(guard.reload(path, revoked).ok());
  EXPECT_FALSE(revoked);  // only added
  EXPECT_EQ(ring.get()->keys().size(), 3u);

  std::ofstream(path) << "garbage\n";
  auto bad = guard.reload(path, revoked);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("line 1"), std::string::npos) << bad.message();
  EXPECT_EQ(ring.get()->keys().size(), 3u);  // unchanged

  std::ofstream(path) << a.public_key << " web-1 agent\n";
  ASSERT_TRUE(guard.reload(path, revoked).ok());
  EXPECT_TRUE(revoked);  // alice is gone
  EXPECT_EQ(ring.get()->find_key(b.public_key), nullptr);

  std::ofstream(path) << a.public_key << " web-1 operator\n";
  ASSERT_TRUE(guard.reload(path, revoked).ok());
  EXPECT_TRUE(revoked);  // same key, another role
  EXPECT_EQ(guard.stats(0).reloads, 3u);
}

}  // namespace
}  // namespace pier::bus_proxy
