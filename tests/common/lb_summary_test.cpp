#include "common/lb_summary.h"

#include <gtest/gtest.h>

#include "common/codec.h"

namespace pier {
namespace {

TEST(LbSummary, EachAppOfAnIdIsItsNameBeforeTheSerial) {
  EXPECT_EQ(lb::app_of("web-3"), "web");
  EXPECT_EQ(lb::app_of("web-api-12"), "web-api");
  EXPECT_EQ(lb::app_of("odd"), "odd") << "no serial: an app of its own";
  EXPECT_EQ(lb::app_of("web-x"), "web-x");
}

TEST(LbSummary, TheDigestNamesTheSetWhateverItsOrder) {
  EXPECT_EQ(lb::servers_digest({"web-2", "web-1"}), lb::servers_digest({"web-1", "web-2"}));
  EXPECT_NE(lb::servers_digest({"web-1"}), lb::servers_digest({"web-1", "web-2"}));
  EXPECT_NE(lb::servers_digest({"web-12"}), lb::servers_digest({"web-1", "web-2"})) << "ids stay apart";
  EXPECT_EQ(lb::servers_digest({}).size(), 16u);
}

TEST(LbSummary, ServersAreCountedPerAppWithTheOnesNotUpNamed) {
  const auto apps = lb::summarize({"web-2", "api-1", "web-1", "web-3"}, {"web-1", "api-1"}, true);
  ASSERT_EQ(apps.size(), 2u);
  EXPECT_EQ(apps[0].app, "api") << "sorted by app";
  EXPECT_EQ(apps[0].listed, 1);
  EXPECT_EQ(apps[0].up, 1);
  EXPECT_TRUE(apps[0].down.empty());
  EXPECT_EQ(apps[1].app, "web");
  EXPECT_EQ(apps[1].listed, 3);
  EXPECT_EQ(apps[1].up, 1);
  EXPECT_EQ(apps[1].down, (std::vector<std::string>{"web-2", "web-3"}));
  EXPECT_EQ(apps[1].digest, lb::servers_digest({"web-1", "web-2", "web-3"}));
  ASSERT_NE(lb::find(apps, "web"), nullptr);
  EXPECT_EQ(lb::find(apps, "web")->listed, 3);
  EXPECT_EQ(lb::find(apps, "db"), nullptr);

  const auto unchecked = lb::summarize({"web-1"}, {}, false);
  EXPECT_EQ(unchecked[0].up, 0) << "without checks nothing is up, and nothing named down";
  EXPECT_TRUE(unchecked[0].down.empty());
}

TEST(LbSummary, AtMostSixteenDownAreNamedAndTheCountsTellTheRest) {
  std::vector<std::string> servers;
  for (int n = 1; n <= 40; ++n) servers.push_back("web-" + std::to_string(n));
  const auto apps = lb::summarize(servers, {}, true);
  EXPECT_EQ(apps[0].listed, 40);
  EXPECT_EQ(apps[0].up, 0);
  EXPECT_EQ(apps[0].down.size(), lb::kMaxDownNamed);
}

// The wire form grows with the apps, not with the servers; it reads back the same as the lists it came from.
TEST(LbSummary, TheWireFormCarriesAppsInsteadOfEveryServerAndReadsTheSame) {
  msg::LbStatus full;
  full.hash = "abc";
  full.reports_servers_up = true;
  for (int n = 1; n <= 1000; ++n) {
    full.servers.push_back("web-" + std::to_string(n));
    full.servers_up.push_back("web-" + std::to_string(n));
  }
  const msg::LbStatus wire = lb::for_wire(full);
  EXPECT_TRUE(wire.servers.empty());
  EXPECT_TRUE(wire.servers_up.empty());
  EXPECT_TRUE(wire.reports_apps);
  EXPECT_EQ(wire.hash, "abc");
  EXPECT_LT(codec::encode(wire).size() * 50, codec::encode(full).size());
  const auto from_lists = lb::apps(full);
  const auto from_wire = lb::apps(wire);
  ASSERT_EQ(from_wire.size(), 1u);
  EXPECT_EQ(from_wire[0].digest, from_lists[0].digest);
  EXPECT_EQ(from_wire[0].up, 1000);
  EXPECT_EQ(lb::for_wire(wire).apps.size(), 1u) << "a wire form stays as it is";
}

}  // namespace
}  // namespace pier
