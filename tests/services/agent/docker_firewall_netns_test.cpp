// The docker firewall against the real iptables program, in a network namespace of the test's own
// (`ip netns add pfw<pid>`, removed at the end, also after a failure): never the machine's own rules.
// Skipped when not root or when iptables cannot run in a namespace here.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <sstream>

#include "services/agent/docker_firewall.h"

namespace pier::agent {
namespace {

const std::string kPierAccept = "-A DOCKER-USER -s 10.213.0.0/16 -d 10.213.1.0/24 -m comment --comment pier -j ACCEPT";
const std::string kPierReturn = "-A POSTROUTING -s 10.213.1.0/24 -d 10.213.0.0/16 -m comment --comment pier -j RETURN";

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<std::string> without_piers(const std::string& text) {
  auto out = lines(text);
  std::erase_if(out, [](const std::string& line) { return line.find("--comment pier ") != std::string::npos; });
  return out;
}

int count(const std::string& text, const std::string& line) {
  const auto all = lines(text);
  return static_cast<int>(std::count(all.begin(), all.end(), line));
}

// The rule numbers of a chain's lines, 1-based; 0 when absent.
int position(const std::string& text, const std::string& line) {
  const std::string chain = "-A " + line.substr(3, line.find(' ', 3) - 3) + " ";
  int n = 0;
  for (const auto& l : lines(text)) {
    if (l.rfind(chain, 0) != 0) continue;
    ++n;
    if (l == line) return n;
  }
  return 0;
}

class DockerFirewallNetns : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root for a network namespace";
    ns_ = "pfw" + std::to_string(::getpid());
    if (!sh("ip netns add " + ns_)) GTEST_SKIP() << "cannot make a network namespace here";
    made_ = true;
    if (!in_ns("iptables -w 5 -t filter -S") || !in_ns("iptables -w 5 -t nat -S"))
      GTEST_SKIP() << "iptables does not run in a network namespace here";
    iptables_ = std::make_unique<IptablesProgram>(std::vector<std::string>{"ip", "netns", "exec", ns_, "iptables"});
  }
  void TearDown() override {
    if (made_) sh("ip netns delete " + ns_);
  }

  static bool sh(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()) == 0; }
  bool in_ns(const std::string& command) const { return sh("ip netns exec " + ns_ + " " + command); }

  // What Docker 20.10 makes with --iptables=true and one user-defined bridge network on 10.213.1.0/24.
  void make_docker_rules() {
    for (const char* rule : {
             "-N DOCKER",
             "-N DOCKER-ISOLATION-STAGE-1",
             "-N DOCKER-ISOLATION-STAGE-2",
             "-N DOCKER-USER",
             "-P FORWARD DROP",
             "-A FORWARD -j DOCKER-USER",
             "-A FORWARD -j DOCKER-ISOLATION-STAGE-1",
             "-A FORWARD -o br-pfw -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
             "-A FORWARD -o br-pfw -j DOCKER",
             "-A FORWARD -i br-pfw ! -o br-pfw -j ACCEPT",
             "-A FORWARD -i br-pfw -o br-pfw -j ACCEPT",
             "-A DOCKER-ISOLATION-STAGE-1 -i br-pfw ! -o br-pfw -j DOCKER-ISOLATION-STAGE-2",
             "-A DOCKER-ISOLATION-STAGE-1 -j RETURN",
             "-A DOCKER-ISOLATION-STAGE-2 -o br-pfw -j DROP",
             "-A DOCKER-ISOLATION-STAGE-2 -j RETURN",
             "-A DOCKER-USER -j RETURN",
             "-t nat -N DOCKER",
             "-t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
             "-t nat -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER",
             "-t nat -A POSTROUTING -s 10.213.1.0/24 ! -o br-pfw -j MASQUERADE",
             "-t nat -A DOCKER -i br-pfw -j RETURN",
         })
      ASSERT_TRUE(in_ns(std::string("iptables -w 5 ") + rule)) << rule;
  }

  std::string ns_;
  bool made_ = false;
  std::unique_ptr<IptablesProgram> iptables_;
};

TEST_F(DockerFirewallNetns, AddsEachRuleOnceInPlaceAndLeavesDockersAlone) {
  make_docker_rules();
  const auto filter_before = iptables_->list("filter");
  const auto nat_before = iptables_->list("nat");
  ASSERT_TRUE(filter_before.ok()) << filter_before.status().message();
  ASSERT_TRUE(nat_before.ok()) << nat_before.status().message();

  DockerFirewall firewall(*iptables_);
  const FirewallSpec spec{{"10.213.0.0/16"}, "10.213.1.0/24"};
  auto first = firewall.apply(spec);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_TRUE(first->docker_iptables);
  EXPECT_EQ(first->changes.size(), 2u);
  auto second = firewall.apply(spec);
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_TRUE(second->changes.empty()) << "iptables -S printed pier's rules otherwise than planned";

  const auto filter = *iptables_->list("filter");
  const auto nat = *iptables_->list("nat");
  EXPECT_EQ(count(filter, kPierAccept), 1) << filter;
  EXPECT_EQ(count(nat, kPierReturn), 1) << nat;
  EXPECT_EQ(position(filter, kPierAccept), 1) << filter;  // before docker's RETURN
  EXPECT_EQ(position(filter, "-A DOCKER-USER -j RETURN"), 2) << filter;
  EXPECT_EQ(position(nat, kPierReturn), 1) << nat;  // before docker's MASQUERADE
  EXPECT_EQ(without_piers(filter), lines(*filter_before));
  EXPECT_EQ(without_piers(nat), lines(*nat_before));
}

TEST_F(DockerFirewallNetns, ARuleDockerInsertedAboveMovesPiersUpAndKeepsDockers) {
  make_docker_rules();
  DockerFirewall firewall(*iptables_);
  const FirewallSpec spec{{"10.213.0.0/16"}, "10.213.1.0/24"};
  ASSERT_TRUE(firewall.apply(spec).ok());
  // dockerd makes a second network after pier's rules stand: its MASQUERADE lands at the top.
  const std::string masquerade = "-A POSTROUTING -s 10.213.9.0/24 ! -o br-pfw2 -j MASQUERADE";
  ASSERT_TRUE(in_ns("iptables -w 5 -t nat -I POSTROUTING 1 -s 10.213.9.0/24 ! -o br-pfw2 -j MASQUERADE"));
  const auto nat_before = *iptables_->list("nat");
  ASSERT_EQ(position(nat_before, kPierReturn), 2);

  auto moved = firewall.apply(spec);
  ASSERT_TRUE(moved.ok()) << moved.status().message();
  EXPECT_EQ(moved->changes.size(), 2u);  // delete pier's, insert it at the top
  const auto nat = *iptables_->list("nat");
  EXPECT_EQ(count(nat, kPierReturn), 1) << nat;
  EXPECT_EQ(position(nat, kPierReturn), 1) << nat;
  EXPECT_EQ(position(nat, masquerade), 2) << nat;
  EXPECT_EQ(without_piers(nat), without_piers(nat_before));
  auto again = firewall.apply(spec);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->changes.empty());
}

TEST_F(DockerFirewallNetns, WithoutDockerUserNothingIsAdded) {
  const auto filter_before = *iptables_->list("filter");
  const auto nat_before = *iptables_->list("nat");
  DockerFirewall firewall(*iptables_);
  auto plan = firewall.apply({{"10.213.0.0/16"}, "10.213.1.0/24"});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_FALSE(plan->docker_iptables);
  EXPECT_TRUE(plan->changes.empty());
  EXPECT_EQ(*iptables_->list("filter"), filter_before);
  EXPECT_EQ(*iptables_->list("nat"), nat_before);
}

TEST_F(DockerFirewallNetns, AFailingIptablesIsAnErrorWithItsMessage) {
  IptablesProgram broken({"ip", "netns", "exec", ns_, "iptables"});
  const Status status = broken.remove("filter", "NO-SUCH-CHAIN", {"-j", "ACCEPT"});
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("exit code"), std::string::npos) << status.message();
}

}  // namespace
}  // namespace pier::agent
