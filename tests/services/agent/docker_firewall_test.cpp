// The docker firewall planner on recorded `iptables -S` text, and the applier over an Iptables that
// keeps its rules in memory. The real iptables in a network namespace: docker_firewall_netns_test.cpp.
#include "services/agent/docker_firewall.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>

namespace pier::agent {
namespace {

using Kind = FirewallChange::Kind;

// `iptables -S` of Docker 20.10 (Debian 12's docker.io) with pier's network pier-h1 on 10.213.1.0/24.
const std::string kDockerFilter = R"(-P INPUT ACCEPT
-P FORWARD DROP
-P OUTPUT ACCEPT
-N DOCKER
-N DOCKER-ISOLATION-STAGE-1
-N DOCKER-ISOLATION-STAGE-2
-N DOCKER-USER
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-ISOLATION-STAGE-1
-A FORWARD -o br-5f3a9c2e1b7d -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o br-5f3a9c2e1b7d -j DOCKER
-A FORWARD -i br-5f3a9c2e1b7d ! -o br-5f3a9c2e1b7d -j ACCEPT
-A FORWARD -i br-5f3a9c2e1b7d -o br-5f3a9c2e1b7d -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -i br-5f3a9c2e1b7d ! -o br-5f3a9c2e1b7d -j DOCKER-ISOLATION-STAGE-2
-A DOCKER-ISOLATION-STAGE-1 -j RETURN
-A DOCKER-ISOLATION-STAGE-2 -o br-5f3a9c2e1b7d -j DROP
-A DOCKER-ISOLATION-STAGE-2 -j RETURN
-A DOCKER-USER -j RETURN
)";

const std::string kDockerNat = R"(-P PREROUTING ACCEPT
-P INPUT ACCEPT
-P OUTPUT ACCEPT
-P POSTROUTING ACCEPT
-N DOCKER
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 10.213.1.0/24 ! -o br-5f3a9c2e1b7d -j MASQUERADE
-A DOCKER -i br-5f3a9c2e1b7d -j RETURN
)";

// dockerd --iptables=false: no chain of docker's at all.
const std::string kBareFilter = "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n";
const std::string kBareNat = "-P PREROUTING ACCEPT\n-P INPUT ACCEPT\n-P OUTPUT ACCEPT\n-P POSTROUTING ACCEPT\n";

const std::string kPierAccept = "-A DOCKER-USER -s 10.213.0.0/16 -d 10.213.1.0/24 -m comment --comment pier -j ACCEPT";
const std::string kPierReturn = "-A POSTROUTING -s 10.213.1.0/24 -d 10.213.0.0/16 -m comment --comment pier -j RETURN";

FirewallSpec h1() { return {{"10.213.0.0/16"}, "10.213.1.0/24"}; }

std::vector<std::string> words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// Inserts `line` after the first line that contains `after`.
std::string with_line_after(const std::string& text, const std::string& after, const std::string& line) {
  const auto at = text.find('\n', text.find(after));
  return text.substr(0, at + 1) + line + "\n" + text.substr(at + 1);
}

FirewallChange insert(const std::string& line, int position) {
  auto w = words(line);
  const std::string chain = w[1];
  w.erase(w.begin(), w.begin() + 2);
  return {Kind::kInsert, {chain == "POSTROUTING" ? "nat" : "filter", chain, w}, position};
}

FirewallChange remove(const std::string& line) {
  FirewallChange change = insert(line, 0);
  change.kind = Kind::kDelete;
  return change;
}

TEST(DockerFirewallPlan, FreshDockerHostGetsTheAcceptBeforeDockersReturnAndTheNatReturnAtTheTop) {
  auto plan = plan_docker_firewall(h1(), kDockerFilter, kDockerNat);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_TRUE(plan->docker_iptables);
  EXPECT_EQ(plan->changes, (std::vector{insert(kPierAccept, 1), insert(kPierReturn, 1)}));
}

TEST(DockerFirewallPlan, RulesAlreadyInPlaceNeedNothing) {
  const std::string filter = with_line_after(kDockerFilter, "-A DOCKER-ISOLATION-STAGE-2 -j RETURN", kPierAccept);
  const std::string nat = with_line_after(kDockerNat, "-A OUTPUT", kPierReturn);
  auto plan = plan_docker_firewall(h1(), filter, nat);
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->changes.empty());
}

TEST(DockerFirewallPlan, WithoutDockerUserNothingIsAdded) {
  for (const auto& nat : {kBareNat, kDockerNat}) {
    auto plan = plan_docker_firewall(h1(), kBareFilter, nat);
    ASSERT_TRUE(plan.ok());
    EXPECT_FALSE(plan->docker_iptables);
    EXPECT_TRUE(plan->changes.empty());
  }
}

TEST(DockerFirewallPlan, TheSameRuleWithoutPiersCommentIsNotCounted) {
  const std::string filter = with_line_after(kDockerFilter, "-A DOCKER-ISOLATION-STAGE-2 -j RETURN",
                                             "-A DOCKER-USER -s 10.213.0.0/16 -d 10.213.1.0/24 -j ACCEPT");
  const std::string nat = with_line_after(
      kDockerNat, "-A OUTPUT",
      "-A POSTROUTING -s 10.213.1.0/24 -d 10.213.0.0/16 -m comment --comment \"pier was here\" -j RETURN");
  auto plan = plan_docker_firewall(h1(), filter, nat);
  ASSERT_TRUE(plan.ok());
  // The operator's copy stays where it is (rule 1); pier's goes after it, before docker's RETURN.
  EXPECT_EQ(plan->changes, (std::vector{insert(kPierAccept, 2), insert(kPierReturn, 1)}));
}

TEST(DockerFirewallPlan, OperatorRulesAboveDockersReturnStayAbovePiers) {
  std::string filter = kDockerFilter;
  filter = with_line_after(filter, "-A DOCKER-ISOLATION-STAGE-2 -j RETURN",
                           "-A DOCKER-USER -i eth0 -p tcp -m tcp --dport 22 -j DROP");
  filter = with_line_after(filter, "--dport 22", "-A DOCKER-USER -m conntrack --ctstate INVALID -j DROP");
  auto plan = plan_docker_firewall(h1(), filter, kDockerNat);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->changes.at(0), insert(kPierAccept, 3));
}

TEST(DockerFirewallPlan, ARuleAfterDockersReturnOrBelowItsMasqueradeMovesUp) {
  // Appended after docker's RETURN (never reached); docker inserted a MASQUERADE above pier's RETURN.
  const std::string filter = kDockerFilter + kPierAccept + "\n";
  const std::string nat = kDockerNat + kPierReturn + "\n";
  auto plan = plan_docker_firewall(h1(), filter, nat);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->changes,
            (std::vector{remove(kPierAccept), insert(kPierAccept, 1), remove(kPierReturn), insert(kPierReturn, 1)}));
}

TEST(DockerFirewallPlan, ATwiceMadeRuleStandsOnceAfterwards) {
  std::string filter = with_line_after(kDockerFilter, "-A DOCKER-ISOLATION-STAGE-2 -j RETURN", kPierAccept);
  filter = with_line_after(filter, kPierAccept, kPierAccept);
  const std::string nat = with_line_after(kDockerNat, "-A OUTPUT", kPierReturn);
  auto plan = plan_docker_firewall(h1(), filter, nat);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->changes, (std::vector{remove(kPierAccept), remove(kPierAccept), insert(kPierAccept, 1)}));
}

TEST(DockerFirewallPlan, TwoPlatformNetworksKeepTheirOrder) {
  FirewallSpec spec = h1();
  spec.platform_networks.push_back("10.212.0.0/16");
  auto plan = plan_docker_firewall(spec, kDockerFilter, kDockerNat);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(
      plan->changes,
      (std::vector{insert(kPierAccept, 1),
                   insert("-A DOCKER-USER -s 10.212.0.0/16 -d 10.213.1.0/24 -m comment --comment pier -j ACCEPT", 2),
                   insert(kPierReturn, 1),
                   insert("-A POSTROUTING -s 10.213.1.0/24 -d 10.212.0.0/16 -m comment --comment pier -j RETURN", 2)}));
}

TEST(DockerFirewallPlan, ANetworkNamedTwiceGetsOneRule) {
  FirewallSpec spec = h1();
  spec.platform_networks.push_back("10.213.0.0/16");
  auto wanted = wanted_firewall_rules(spec);
  ASSERT_TRUE(wanted.ok());
  EXPECT_EQ(wanted->size(), 2u);
}

TEST(DockerFirewallPlan, AnotherHostsPierRulesStayAndThisHostsOutdatedOnesGo) {
  // h2's agent shares this daemon (two pier hosts on one machine); h1's rule for a platform network
  // no longer configured is its own to delete.
  const std::string h2_accept = "-A DOCKER-USER -s 10.213.0.0/16 -d 10.213.2.0/24 -m comment --comment pier -j ACCEPT";
  const std::string h2_return = "-A POSTROUTING -s 10.213.2.0/24 -d 10.213.0.0/16 -m comment --comment pier -j RETURN";
  const std::string old_accept = "-A DOCKER-USER -s 10.99.0.0/16 -d 10.213.1.0/24 -m comment --comment pier -j ACCEPT";
  std::string filter = with_line_after(kDockerFilter, "-A DOCKER-ISOLATION-STAGE-2 -j RETURN", h2_accept);
  filter = with_line_after(filter, h2_accept, old_accept);
  const std::string nat = with_line_after(kDockerNat, "-A OUTPUT", h2_return);
  auto plan = plan_docker_firewall(h1(), filter, nat);
  ASSERT_TRUE(plan.ok());
  // Pier's rules at the top of POSTROUTING, whichever host's, count as in place: h1's goes after h2's.
  EXPECT_EQ(plan->changes, (std::vector{remove(old_accept), insert(kPierAccept, 2), insert(kPierReturn, 2)}));
}

TEST(DockerFirewallPlan, InvalidNetworksAreNamed) {
  auto plan = plan_docker_firewall({{"10.213.0.0/16"}, "10.213.1.7/24"}, kDockerFilter, kDockerNat);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().field(), "host_subnet");
  plan = plan_docker_firewall({{"10.213.0.0/33"}, "10.213.1.0/24"}, kDockerFilter, kDockerNat);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().field(), "platform_networks");
  plan = plan_docker_firewall({{}, "10.213.1.0/24"}, kDockerFilter, kDockerNat);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().field(), "platform_networks");
}

// Tables as `iptables -S` prints them, changed as iptables changes them.
class MemoryIptables final : public Iptables {
 public:
  MemoryIptables(const std::string& filter, const std::string& nat) {
    load("filter", filter);
    load("nat", nat);
  }
  Result<std::string> list(const std::string& table) override {
    ++lists;
    std::string out;
    for (const auto& line : heads_[table]) out += line + "\n";
    for (const auto& [chain, args] : rules_[table]) out += "-A " + chain + " " + args + "\n";
    return out;
  }
  Status append(const std::string& table, const std::string& chain, const std::vector<std::string>& rule) override {
    return insert(table, chain, count(table, chain) + 1, rule);
  }
  Status insert(const std::string& table, const std::string& chain, int position,
                const std::vector<std::string>& rule) override {
    ++changes;
    auto& rules = rules_[table];
    int seen = 0;
    auto at = rules.begin();
    for (auto it = rules.begin(); it != rules.end(); ++it) {
      if (it->first != chain) continue;
      if (++seen == position) {
        at = it;
        break;
      }
      at = it + 1;
    }
    if (position > seen + 1) return Status::Error("Index of insertion too big.");
    rules.insert(at, {chain, joined(rule)});
    return Status::Ok();
  }
  Status remove(const std::string& table, const std::string& chain, const std::vector<std::string>& rule) override {
    ++changes;
    auto& rules = rules_[table];
    for (auto it = rules.begin(); it != rules.end(); ++it) {
      if (it->first == chain && it->second == joined(rule)) {
        rules.erase(it);
        return Status::Ok();
      }
    }
    return Status::Error("Bad rule (does a matching rule exist in that chain?).");
  }
  int lists = 0;
  int changes = 0;

 private:
  void load(const std::string& table, const std::string& text) {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("-A ", 0) == 0) {
        const auto space = line.find(' ', 3);
        rules_[table].emplace_back(line.substr(3, space - 3), line.substr(space + 1));
      } else if (!line.empty()) {
        heads_[table].push_back(line);
      }
    }
  }
  int count(const std::string& table, const std::string& chain) {
    int n = 0;
    for (const auto& rule : rules_[table]) n += rule.first == chain;
    return n;
  }
  static std::string joined(const std::vector<std::string>& words) {
    std::string out;
    for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
    return out;
  }
  std::map<std::string, std::vector<std::string>> heads_;
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> rules_;
};

TEST(DockerFirewall, AppliesOnceAndThenFindsEverythingInPlace) {
  MemoryIptables iptables(kDockerFilter + kPierAccept + "\n", kDockerNat);
  DockerFirewall firewall(iptables);
  auto first = firewall.apply(h1());
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(first->changes.size(), 3u);  // the misplaced ACCEPT moved, the RETURN added
  auto filter = iptables.list("filter");
  EXPECT_NE(filter->find(kPierAccept + "\n-A DOCKER-USER -j RETURN\n"), std::string::npos) << *filter;
  auto nat = iptables.list("nat");
  EXPECT_NE(nat->find(kPierReturn + "\n-A POSTROUTING -s 10.213.1.0/24 ! -o"), std::string::npos) << *nat;
  const int changes = iptables.changes;
  auto second = firewall.apply(h1());
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->changes.empty());
  EXPECT_EQ(iptables.changes, changes);
}

TEST(DockerFirewall, WithoutDockerUserChangesNothing) {
  MemoryIptables iptables(kBareFilter, kBareNat);
  DockerFirewall firewall(iptables);
  for (int i = 0; i < 2; ++i) {
    auto plan = firewall.apply(h1());
    ASSERT_TRUE(plan.ok());
    EXPECT_FALSE(plan->docker_iptables);
  }
  EXPECT_EQ(iptables.changes, 0);
}

}  // namespace
}  // namespace pier::agent
