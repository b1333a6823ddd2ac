#include "common/lb_fleet.h"

#include <gtest/gtest.h>

#include "common/codec.h"

namespace pier::lb {
namespace {

msg::LbBackend backend(const std::string& app, int servers) {
  msg::LbBackend b;
  b.name = "app_" + app + "_8000";
  b.app = app;
  b.mode = "http";
  b.algorithm = "roundrobin";
  for (int i = 0; i < servers; ++i)
    b.servers.push_back({app + "-" + std::to_string(i), "10.0.0." + std::to_string(i + 2), 8000});
  return b;
}

msg::LbSpec spec_of(std::vector<msg::LbBackend> backends) {
  msg::LbSpec spec;
  for (const auto& b : backends) {
    msg::LbFrontend fe;
    fe.name = "fe_80";
    fe.port = 80;
    fe.mode = "http";
    if (spec.frontends.empty()) spec.frontends.push_back(fe);
    spec.frontends.front().routes.push_back({"/" + b.app, b.name});
  }
  spec.backends = std::move(backends);
  return spec;
}

const std::string kTemplate = "frontend {{#frontends}}{{name}}{{/frontends}}\n";

class LbFleetTest : public ::testing::Test {
 protected:
  FleetSpec a_ = fleet_of(spec_of({backend("api", 3), backend("web", 100), backend("zed", 2)}), kTemplate, 7);
};

TEST_F(LbFleetTest, AReaderThatTakesTheWholeAndThenEachDeltaHoldsWhatLbgenBuilt) {
  msg::LbSpec next = spec_of({backend("api", 3), backend("web", 101), backend("zed", 2)});
  FleetSpec b = fleet_of(next, kTemplate, 8);
  FleetSpec reader;
  ASSERT_TRUE(apply(reader, whole(a_)).ok());
  EXPECT_EQ(reader.hash, a_.hash);
  EXPECT_EQ(reader.template_text, kTemplate);
  ASSERT_TRUE(apply(reader, delta(a_, b)).ok());
  EXPECT_EQ(reader.hash, b.hash);
  EXPECT_EQ(reader.state_revision, 8);
  EXPECT_EQ(codec::encode(for_host(reader, "h1", "192.0.2.1", "/run/h.sock", 9000).backends),
            codec::encode(next.backends));
}

TEST_F(LbFleetTest, ADeltaCarriesOnlyTheBackendsThatChanged) {
  FleetSpec b = fleet_of(spec_of({backend("api", 3), backend("web", 100), backend("zed", 3)}), kTemplate, 8);
  msg::LbSpecUpdate update = delta(a_, b);
  ASSERT_EQ(update.backends.size(), 1u);
  EXPECT_EQ(update.backends[0].backend.name, "app_zed_8000");
  EXPECT_FALSE(update.has_frontends) << "the ports and paths did not change";
  EXPECT_TRUE(update.removed.empty());
  EXPECT_TRUE(update.template_text.empty()) << "the template travels with whole specs only";
  EXPECT_LT(codec::encode(update).size() * 8, codec::encode(whole(b)).size())
      << "one small backend changed of a spec holding a hundred servers";
}

TEST_F(LbFleetTest, ABackendGoneIsNamedAndRemoved) {
  FleetSpec b = fleet_of(spec_of({backend("api", 3), backend("web", 100)}), kTemplate, 8);
  msg::LbSpecUpdate update = delta(a_, b);
  EXPECT_EQ(update.removed, std::vector<std::string>{"app_zed_8000"});
  EXPECT_TRUE(update.has_frontends) << "the route to it went";
  FleetSpec reader = a_;
  ASSERT_TRUE(apply(reader, update).ok());
  EXPECT_EQ(reader.backends.count("app_zed_8000"), 0u);
  EXPECT_EQ(reader.hash, b.hash);
}

TEST_F(LbFleetTest, AnUpdateAfterAMissedOneIsRefusedAndChangesNothing) {
  FleetSpec b = fleet_of(spec_of({backend("api", 4), backend("web", 100), backend("zed", 2)}), kTemplate, 8);
  FleetSpec c = fleet_of(spec_of({backend("api", 5), backend("web", 100), backend("zed", 2)}), kTemplate, 9);
  FleetSpec reader = a_;
  Status s = apply(reader, delta(b, c));  // the reader missed a -> b
  EXPECT_EQ(s.field(), "base");
  EXPECT_EQ(reader.hash, a_.hash);
  EXPECT_EQ(reader.backends.at("app_api_8000").backend.servers.size(), 3u);
  FleetSpec empty;
  EXPECT_EQ(apply(empty, delta(a_, b)).field(), "base") << "a reader holding nothing takes only a whole spec";
  EXPECT_TRUE(empty.hash.empty());
}

TEST_F(LbFleetTest, ABeaconTellsAReaderWhetherItIsUpToDate) {
  FleetSpec b = fleet_of(spec_of({backend("api", 4), backend("web", 100), backend("zed", 2)}), kTemplate, 8);
  msg::LbSpecUpdate beacon = delta(b, b);
  EXPECT_TRUE(beacon.backends.empty());
  EXPECT_FALSE(beacon.has_frontends);
  EXPECT_LT(codec::encode(beacon).size(), 200u);
  FleetSpec current = b;
  EXPECT_TRUE(apply(current, beacon).ok());
  EXPECT_EQ(current.hash, b.hash);
  FleetSpec behind = a_;
  EXPECT_EQ(apply(behind, beacon).field(), "base");
  EXPECT_EQ(behind.hash, a_.hash);
}

TEST_F(LbFleetTest, AnUpdateWhoseResultIsNotTheHashItAnnouncesIsRefused) {
  FleetSpec b = fleet_of(spec_of({backend("api", 4), backend("web", 100), backend("zed", 2)}), kTemplate, 8);
  msg::LbSpecUpdate update = delta(a_, b);
  update.backends[0].digest = "0000000000000000";  // not what lbgen built
  FleetSpec reader = a_;
  EXPECT_EQ(apply(reader, update).field(), "hash");
  EXPECT_EQ(reader.hash, a_.hash);
  msg::LbSpecUpdate bad_whole = whole(b);
  bad_whole.backends.pop_back();
  FleetSpec fresh;
  EXPECT_EQ(apply(fresh, bad_whole).field(), "hash");
  EXPECT_TRUE(fresh.hash.empty());
}

TEST_F(LbFleetTest, ANewTemplateComesOnlyWithAWholeSpec) {
  FleetSpec other = fleet_of(spec_of({backend("api", 3), backend("web", 100), backend("zed", 2)}), "other\n", 8);
  FleetSpec reader = a_;
  EXPECT_EQ(apply(reader, delta(a_, other)).field(), "template_hash");
  EXPECT_EQ(reader.hash, a_.hash);
  msg::LbSpecUpdate forged = whole(other);
  forged.template_text = "not the template its hash names\n";
  EXPECT_EQ(apply(reader, forged).field(), "template_hash");
  ASSERT_TRUE(apply(reader, whole(other)).ok());
  EXPECT_EQ(reader.template_text, "other\n");
}

TEST_F(LbFleetTest, TheHashDependsOnTheDigestsLbgenSentNotOnTheReadersEncoding) {
  msg::LbSpecUpdate update = whole(a_);
  FleetSpec reader;
  ASSERT_TRUE(apply(reader, update).ok());
  // A reader of another version would encode a backend differently; it keeps lbgen's digests.
  EXPECT_EQ(reader.backends.at("app_web_8000").digest, backend_digest(backend("web", 100)));
  EXPECT_EQ(fleet_hash(reader), a_.hash);
}

TEST_F(LbFleetTest, EachHostsSpecIsTheFleetsWithItsOwnFields) {
  msg::LbSpec spec = for_host(a_, "h7", "192.0.2.7", "/run/pier/h7.sock", 8404);
  EXPECT_EQ(spec.host_id, "h7");
  EXPECT_EQ(spec.bind_address, "192.0.2.7");
  EXPECT_EQ(spec.stats_socket, "/run/pier/h7.sock");
  EXPECT_EQ(spec.stats_port, 8404);
  ASSERT_EQ(spec.backends.size(), 3u);
  EXPECT_EQ(spec.backends[0].name, "app_api_8000") << "in name order, as lbgen builds them";
  EXPECT_EQ(codec::encode(spec.frontends), codec::encode(a_.frontends));
}

}  // namespace
}  // namespace pier::lb
