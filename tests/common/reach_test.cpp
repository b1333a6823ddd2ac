#include "common/reach.h"

#include <gtest/gtest.h>

#include "common/lb_summary.h"

namespace pier {
namespace {

msg::HostRecord judge(const std::string& id, std::vector<std::string> listed, std::vector<std::string> up) {
  msg::HostRecord h;
  h.id = id;
  h.lb.servers = std::move(listed);
  h.lb.servers_up = std::move(up);
  h.lb.reports_servers_up = true;
  return h;
}

msg::InstanceRecord running(const std::string& id, const std::string& host) {
  msg::InstanceRecord i;
  i.id = id;
  i.app = "web";
  i.host = host;
  i.state = "running";
  return i;
}

TEST(Reach, DownFromOneHostUpFromAnotherIsAFault) {
  msg::State s;
  s.hosts = {judge("h1", {"web-1", "web-2"}, {"web-1"}), judge("h2", {"web-1", "web-2"}, {"web-1", "web-2"}),
             judge("h3", {"web-1", "web-2"}, {"web-1", "web-2"})};
  s.instances = {running("web-1", "h1"), running("web-2", "h3")};
  const auto found = reach::faults(s);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].host, "h1");
  EXPECT_EQ(found[0].instance, "web-2");
  EXPECT_EQ(reach::describe(found[0]), "h1's HAProxy finds web-2 (on h3) down; h2, h3 find it up");
}

TEST(Reach, DownEverywhereOrNotJudgedIsNoFault) {
  msg::State s;
  s.hosts = {judge("h1", {"web-1"}, {}), judge("h2", {"web-1"}, {})};
  s.instances = {running("web-1", "h2")};
  EXPECT_TRUE(reach::faults(s).empty()) << "down from everywhere: the instance, not the overlay";
  s.hosts[1].lb.servers_up = {"web-1"};
  s.hosts[1].status = "suspect";
  EXPECT_TRUE(reach::faults(s).empty()) << "only up hosts judge";
  s.hosts[1].status = "up";
  s.hosts[0].lb.reports_servers_up = false;
  EXPECT_TRUE(reach::faults(s).empty()) << "an agent that does not report checks judges nothing";
  s.hosts[0].lb.reports_servers_up = true;
  s.instances[0].state = "starting";
  EXPECT_TRUE(reach::faults(s).empty()) << "only running instances";
  s.instances[0].state = "running";
  EXPECT_EQ(reach::faults(s).size(), 1u);
}

// As this version's agents send it: per app, with the servers not up named.
TEST(Reach, TheWireFormIsJudgedAsTheListsAreAndADifferentListingIsNoWitness) {
  msg::State s;
  s.hosts = {judge("h1", {"web-1", "web-2"}, {"web-1"}), judge("h2", {"web-1", "web-2"}, {"web-1", "web-2"}),
             judge("h3", {"web-2"}, {"web-2"})};
  for (auto& h : s.hosts) h.lb = lb::for_wire(h.lb);
  s.instances = {running("web-1", "h1"), running("web-2", "h3")};
  const auto found = reach::faults(s);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(reach::describe(found[0]), "h1's HAProxy finds web-2 (on h3) down; h2 finds it up")
      << "h3 lists other servers of web (its config is older or newer): it says nothing of web-2";
  EXPECT_EQ(reach::faults(s, "h2").size(), 0u);
}

}  // namespace
}  // namespace pier
