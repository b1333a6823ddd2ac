// The rules a docker host needs so that instances on its bridge network are reachable from the other
// hosts of the platform network (the overlay routes every host's subnet to every other host), added
// beside dockerd's own rules and never in place of them.
//
// Where dockerd manages iptables (`--iptables=true`, its default) it sets FORWARD's policy to DROP and
// accepts towards a bridge only replies (`-o br -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`)
// and published ports (its DOCKER chain); and it masquerades what leaves a bridge (`-t nat -I
// POSTROUTING -s <subnet> ! -o br -j MASQUERADE`). So pier adds, tagged `-m comment --comment pier`:
//
//   -t filter DOCKER-USER  -s <platform network> -d <host subnet> -j ACCEPT   (one per platform network)
//   -t nat    POSTROUTING  -s <host subnet> -d <platform network> -j RETURN   (one per platform network)
//
// The first lets new connections from HAProxy (or an instance) on another host in; their replies leave
// the bridge through dockerd's own unconditional `-i br ! -o br -j ACCEPT`, and replies to connections
// an instance opened come in through dockerd's conntrack rule, so no rule for the other direction and
// no conntrack rule of pier's is needed. The second keeps an instance's traffic to another host's
// subnet unmasqueraded, so an instance called from an instance on another host sees the caller's own
// address. (HAProxy's own connections leave from the host's address, which dockerd's MASQUERADE, `-s
// <subnet>`, never matches; the platform networks must include that address, e.g. the overlay's
// routed network, for the first rule to let them in.)
//
// Placement matters, and dockerd inserts at the top: DOCKER-USER ends in dockerd's own `-j RETURN`
// (Docker 20.10), so pier's rule goes just before that RETURN (an appended one would never be
// reached), after any rule an operator put above it; pier's nat RETURN must come before every other
// rule of POSTROUTING (dockerd inserts a MASQUERADE at the top when it makes a network). A pier rule
// found out of place, twice, or no longer wanted (the host's subnet changed) is deleted by its exact
// spec, which only ever matches a rule carrying pier's comment; dockerd's and the operator's rules are
// never deleted, moved or counted. Without a DOCKER-USER chain (`--iptables=false`) nothing is added.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace pier::agent {

// The comment that marks a rule as pier's (`-m comment --comment pier`).
inline constexpr const char* kFirewallComment = "pier";

struct FirewallSpec {
  std::vector<std::string> platform_networks;  // CIDRs every host's subnet lies in, e.g. 10.213.0.0/16
  std::string host_subnet;                     // this host's bridge subnet, e.g. 10.213.4.0/24
};

// One rule as iptables takes it after `-t <table> -A <chain>`: e.g. {"-s", "10.213.0.0/16", ...}.
struct IptablesRule {
  std::string table;
  std::string chain;
  std::vector<std::string> args;
  bool operator==(const IptablesRule&) const = default;
  std::string text() const;  // "-t nat -A POSTROUTING -s ... -j RETURN"
};

struct FirewallChange {
  enum class Kind { kInsert, kAppend, kDelete };
  Kind kind = Kind::kInsert;
  IptablesRule rule;
  int position = 0;  // kInsert: 1-based rule number, valid once the changes before it are applied
  bool operator==(const FirewallChange&) const = default;
  std::string command() const;  // "iptables -t nat -I POSTROUTING 1 -s ...", for logs
};

struct FirewallPlan {
  bool docker_iptables = false;         // a DOCKER-USER chain exists; false: dockerd runs --iptables=false
  std::vector<FirewallChange> changes;  // to apply in order; empty when everything is in place
};

// The rules pier wants for this spec, in the order they should stand.
Result<std::vector<IptablesRule>> wanted_firewall_rules(const FirewallSpec& spec);

// Pure: from the output of `iptables -t filter -S` and `iptables -t nat -S` (whole tables), the changes
// that make pier's rules stand exactly once, in place. Running it on the rules its plan produced
// yields no change. An invalid CIDR is an error naming the field.
Result<FirewallPlan> plan_docker_firewall(const FirewallSpec& spec, const std::string& filter_rules,
                                          const std::string& nat_rules);

// The iptables of one network namespace.
class Iptables {
 public:
  virtual ~Iptables() = default;
  // `-S` of a whole table (its -P, -N and -A lines): a missing chain is a fact to plan on, not an error.
  virtual Result<std::string> list(const std::string& table) = 0;
  virtual Status append(const std::string& table, const std::string& chain, const std::vector<std::string>& rule) = 0;
  virtual Status insert(const std::string& table, const std::string& chain, int position,
                        const std::vector<std::string>& rule) = 0;
  // Deletes the first rule with exactly this spec (`-D chain <rule>`); pier passes only its own rules.
  virtual Status remove(const std::string& table, const std::string& chain, const std::vector<std::string>& rule) = 0;
};

// Runs the iptables program (`iptables -w 5 -t <table> ...`), as dockerd and kube-proxy do: libiptc,
// the library behind it, is not a stable public API, and the nf_tables backend has none at all. The
// program on PATH is the one dockerd itself runs (Debian's alternatives pick nft or legacy for both),
// so pier sees the rules dockerd made. `command` replaces "iptables", e.g. {"ip", "netns", "exec",
// "ns1", "iptables"} to work in another namespace.
class IptablesProgram final : public Iptables {
 public:
  explicit IptablesProgram(std::vector<std::string> command = {"iptables"}, int timeout_ms = 15'000);
  Result<std::string> list(const std::string& table) override;
  Status append(const std::string& table, const std::string& chain, const std::vector<std::string>& rule) override;
  Status insert(const std::string& table, const std::string& chain, int position,
                const std::vector<std::string>& rule) override;
  Status remove(const std::string& table, const std::string& chain, const std::vector<std::string>& rule) override;

 private:
  // Runs `command -w 5 <args>`; its stdout, or an error with its stderr.
  Result<std::string> run(const std::vector<std::string>& args) const;

  std::vector<std::string> command_;
  int timeout_ms_;
};

// Plans and applies; call it whenever the host's subnet may have changed (after the network is made)
// and now and then, since dockerd inserts rules of its own at the top.
class DockerFirewall {
 public:
  explicit DockerFirewall(Iptables& iptables) : iptables_(iptables) {}
  // The plan that was applied (every change of it, in order); the first change refused stops there.
  Result<FirewallPlan> apply(const FirewallSpec& spec);

 private:
  Iptables& iptables_;
  bool said_no_docker_iptables_ = false;  // logged once
};

}  // namespace pier::agent
