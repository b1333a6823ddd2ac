#include "services/agent/overlay_plan.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <functional>
#include <set>
#include <sstream>

#include "services/agent/overlay.h"
#include "services/agent/peer_probe.h"

namespace pier::agent {
namespace {

uint32_t ip(const char* text) { return *net::parse_ipv4(text); }
net::Ipv4Net cidr(const char* text) { return *net::parse_cidr(text); }

msg::HostRecord host(const std::string& id, const std::string& subnet, const std::string& underlay,
                     const std::string& mac, const std::string& mode = "vxlan") {
  msg::HostRecord h;
  h.id = id;
  h.subnet = subnet;
  h.overlay.mode = mode;
  h.overlay.underlay = underlay;
  h.overlay.vtep_mac = mode == "vxlan" ? mac : "";
  h.overlay.vni = mode == "vxlan" ? 1 : 0;
  h.overlay.port = mode == "vxlan" ? 4789 : 0;
  h.overlay.probe_port = 7709;
  return h;
}

OverlayConfig config(const std::string& mode = "vxlan") {
  OverlayConfig c;
  c.mode = mode;
  c.host_id = "h1";
  c.underlay = "192.168.1.1";
  return c;
}

// h1 (this host), h2 and h3.
msg::State three_hosts(const std::string& mode = "vxlan") {
  msg::State s;
  s.hosts.push_back(host("h1", "10.212.1.0/24", "192.168.1.1", "02:00:00:00:00:01", mode));
  s.hosts.push_back(host("h2", "10.212.2.0/24", "192.168.1.2", "02:00:00:00:00:02", mode));
  s.hosts.push_back(host("h3", "10.212.3.0/24", "192.168.1.3", "02:00:00:00:00:03", mode));
  return s;
}

OverlayEntries vxlan_entries_h2_h3() {
  OverlayEntries e;
  e.routes = {{cidr("10.212.2.0/24"), ip("10.212.2.0"), true}, {cidr("10.212.3.0/24"), ip("10.212.3.0"), true}};
  e.neighbours = {{ip("10.212.2.0"), "02:00:00:00:00:02"}, {ip("10.212.3.0"), "02:00:00:00:00:03"}};
  e.fdb = {{"02:00:00:00:00:02", ip("192.168.1.2")}, {"02:00:00:00:00:03", ip("192.168.1.3")}};
  return e;
}

std::string refusals_text(const std::vector<Refusal>& refused) {
  std::string out;
  for (const auto& r : refused) out += to_string(r) + "\n";
  return out;
}

TEST(OverlayPlanTest, VxlanRouteNeighbourAndFdbPerPeerOwnHostSkipped) {
  std::vector<Refusal> refused;
  const auto want = desired_entries(config(), three_hosts(), &refused);
  EXPECT_EQ(want, vxlan_entries_h2_h3()) << to_string(want);
  EXPECT_TRUE(refused.empty()) << refusals_text(refused);
  EXPECT_EQ(to_string(want.routes[0]), "10.212.2.0/24 via 10.212.2.0 onlink");
  EXPECT_EQ(to_string(want.neighbours[0]), "10.212.2.0 lladdr 02:00:00:00:00:02");
  EXPECT_EQ(to_string(want.fdb[0]), "02:00:00:00:00:02 dst 192.168.1.2");
}

TEST(OverlayPlanTest, HostGwRouteViaUnderlayOnly) {
  std::vector<Refusal> refused;
  const auto want = desired_entries(config("host-gw"), three_hosts("host-gw"), &refused);
  OverlayEntries expected;
  expected.routes = {{cidr("10.212.2.0/24"), ip("192.168.1.2"), false},
                     {cidr("10.212.3.0/24"), ip("192.168.1.3"), false}};
  EXPECT_EQ(want, expected) << to_string(want);
  EXPECT_TRUE(refused.empty()) << refusals_text(refused);
}

TEST(OverlayPlanTest, DownHostsIgnoredSuspectOnesKept) {
  auto state = three_hosts();
  state.hosts[1].status = "down";
  state.hosts[2].status = "suspect";
  std::vector<Refusal> refused;
  const auto want = desired_entries(config(), state, &refused);
  ASSERT_EQ(want.routes.size(), 1u) << to_string(want);
  EXPECT_EQ(want.routes[0].dst.base, ip("10.212.3.0"));
  // A down host is not a peer: not even refused for a bad record.
  state.hosts[1].overlay.vtep_mac = "bad";
  desired_entries(config(), state, &refused);
  EXPECT_TRUE(refused.empty()) << refusals_text(refused);
}

TEST(OverlayPlanTest, MacHexOfEitherCaseIsWrittenLowerCase) {
  auto state = three_hosts();
  state.hosts[1].overlay.vtep_mac = "0A:1B:2C:3D:4E:5F";
  const auto want = desired_entries(config(), state, nullptr);
  EXPECT_EQ(want.fdb[0], (OverlayFdb{"02:00:00:00:00:03", ip("192.168.1.3")}));
  EXPECT_EQ(want.fdb[1], (OverlayFdb{"0a:1b:2c:3d:4e:5f", ip("192.168.1.2")}));
  EXPECT_EQ(want.neighbours[0], (OverlayNeighbour{ip("10.212.2.0"), "0a:1b:2c:3d:4e:5f"}));
}

struct RefusalCase {
  std::string name;
  std::function<void(msg::State&)> change;  // to h2's record (hosts[1]) or others
  std::string field;
  std::string rule_part;  // a part of the rule
  std::set<std::string> refused_hosts = {"h2"};
};

class OverlayRefusalTest : public testing::TestWithParam<RefusalCase> {};

TEST_P(OverlayRefusalTest, PeerRefusedAndNothingWrittenForIt) {
  const RefusalCase& c = GetParam();
  auto state = three_hosts();
  c.change(state);
  std::vector<Refusal> refused;
  const auto want = desired_entries(config(), state, &refused);
  std::set<std::string> hosts;
  bool found = false;
  for (const auto& r : refused) {
    hosts.insert(r.host);
    if (r.field == c.field && r.rule.find(c.rule_part) != std::string::npos) found = true;
  }
  EXPECT_TRUE(found) << "want " << c.field << ": ..." << c.rule_part << "..., got:\n" << refusals_text(refused);
  EXPECT_EQ(hosts, c.refused_hosts) << refusals_text(refused);
  // Nothing for a refused host; everything for the others.
  OverlayEntries expected;
  const auto all = vxlan_entries_h2_h3();
  for (std::size_t i = 0; i < 2; ++i) {
    if (c.refused_hosts.count(i == 0 ? "h2" : "h3")) continue;
    expected.routes.push_back(all.routes[i]);
    expected.neighbours.push_back(all.neighbours[i]);
    expected.fdb.push_back(all.fdb[i]);
  }
  EXPECT_EQ(want, expected) << to_string(want);
}

void set_h2(msg::State& s, const std::function<void(msg::HostRecord&)>& f) { f(s.hosts[1]); }

INSTANTIATE_TEST_SUITE_P(
    Cases, OverlayRefusalTest,
    testing::Values(
        RefusalCase{"UnderlayIpv6", [](msg::State& s) { set_h2(s, [](auto& h) { h.overlay.underlay = "fd00::2"; }); },
                    "overlay.underlay", "must be an IPv4 address"},
        RefusalCase{"UnderlayHostname",
                    [](msg::State& s) { set_h2(s, [](auto& h) { h.overlay.underlay = "h2.example"; }); },
                    "overlay.underlay", "must be an IPv4 address"},
        RefusalCase{"UnderlayEmpty", [](msg::State& s) { set_h2(s, [](auto& h) { h.overlay.underlay = ""; }); },
                    "overlay.underlay", "must be an IPv4 address"},
        RefusalCase{"UnderlayZero", [](msg::State& s) { set_h2(s, [](auto& h) { h.overlay.underlay = "0.0.0.0"; }); },
                    "overlay.underlay", "0.0.0.0"},
        RefusalCase{"UnderlayLoopback",
                    [](msg::State& s) { set_h2(s, [](auto& h) { h.overlay.underlay = "127.0.0.1"; }); },
                    "overlay.underlay", "loopback"},
        RefusalCase{"UnderlayMulticast",
                    [](msg::State& s) { set_h2(s, [](auto& h) { h.overlay.underlay = "239.1.1.1"; }); },
                    "overlay.underlay", "multicast"},
        RefusalCase{"UnderlayThisHosts",
                    [](msg::State& s) { set_h2(s, [](auto& h) { h.overlay.underlay = "192.168.1.1"; }); },
                    "overlay.underlay", "this host's own"},
        RefusalCase{"SubnetNotCidr", [](msg::State& s) { set_h2(s, [](auto& h) { h.subnet = "10.212.2.0"; }); },
                    "subnet", "must be a CIDR"},
        RefusalCase{"SubnetHostBits", [](msg::State& s) { set_h2(s, [](auto& h) { h.subnet = "10.212.2.7/24"; }); },
                    "subnet", "host bits"},
        RefusalCase{"SubnetDefaultRoute", [](msg::State& s) { set_h2(s, [](auto& h) { h.subnet = "0.0.0.0/0"; }); },
                    "subnet", "prefix must be between /8 and /30"},
        RefusalCase{"SubnetLoopback", [](msg::State& s) { set_h2(s, [](auto& h) { h.subnet = "127.100.2.0/24"; }); },
                    "subnet", "127.0.0.0/8"},
        // A peer that overlaps this host's subnet is wrong for certain: it costs h3 (which its /16 also
        // overlaps) nothing.
        RefusalCase{"SubnetOverlapsThisHosts",
                    [](msg::State& s) { set_h2(s, [](auto& h) { h.subnet = "10.212.0.0/16"; }); }, "subnet",
                    "overlaps this host's (10.212.1.0/24)"},
        // Two peers that overlap: both refused (the plan cannot tell which one the registry meant).
        RefusalCase{"SubnetOverlapsAnotherPeers",
                    [](msg::State& s) { set_h2(s, [](auto& h) { h.subnet = "10.212.3.128/25"; }); }, "subnet",
                    "overlaps host h3's (10.212.3.0/24)", std::set<std::string>{"h2", "h3"}},
        RefusalCase{"MacMalformed",
                    [](msg::State& s) { set_h2(s, [](auto& h) { h.overlay.vtep_mac = "02:00:00:00:00"; }); },
                    "overlay.vtep_mac", "six hex pairs"},
        RefusalCase{"MacNotHex",
                    [](msg::State& s) { set_h2(s, [](auto& h) { h.overlay.vtep_mac = "02:00:00:00:00:zz"; }); },
                    "overlay.vtep_mac", "six hex pairs"},
        RefusalCase{"MacDashes",
                    [](msg::State& s) { set_h2(s, [](auto& h) { h.overlay.vtep_mac = "02-00-00-00-00-02"; }); },
                    "overlay.vtep_mac", "six hex pairs"},
        RefusalCase{"MacEmpty", [](msg::State& s) { set_h2(s, [](auto& h) { h.overlay.vtep_mac = ""; }); },
                    "overlay.vtep_mac", "six hex pairs"},
        RefusalCase{"MacMulticast",
                    [](msg::State& s) { set_h2(s, [](auto& h) { h.overlay.vtep_mac = "01:00:5e:00:00:02"; }); },
                    "overlay.vtep_mac", "unicast"},
        RefusalCase{"MacZero",
                    [](msg::State& s) { set_h2(s, [](auto& h) { h.overlay.vtep_mac = "00:00:00:00:00:00"; }); },
                    "overlay.vtep_mac", "all zeros"},
        RefusalCase{"MacSameAsAnotherPeers",
                    [](msg::State& s) { set_h2(s, [](auto& h) { h.overlay.vtep_mac = "02:00:00:00:00:03"; }); },
                    "overlay.vtep_mac", "same as host h3's", std::set<std::string>{"h2", "h3"}},
        RefusalCase{"VniOther", [](msg::State& s) { set_h2(s, [](auto& h) { h.overlay.vni = 2; }); }, "overlay.vni",
                    "must match this host's (1)"},
        RefusalCase{"PortOther", [](msg::State& s) { set_h2(s, [](auto& h) { h.overlay.port = 8472; }); },
                    "overlay.port", "must match this host's (4789)"},
        RefusalCase{"ModeOther", [](msg::State& s) { set_h2(s, [](auto& h) { h.overlay.mode = "host-gw"; }); },
                    "overlay.mode", "must match this host's (vxlan)"},
        RefusalCase{"ModeEmpty", [](msg::State& s) { set_h2(s, [](auto& h) { h.overlay = {}; }); }, "overlay.mode",
                    "not set"}),
    [](const testing::TestParamInfo<RefusalCase>& info) { return info.param.name; });

TEST(OverlayPlanTest, DiffOfEqualSetsIsEmpty) {
  const auto want = vxlan_entries_h2_h3();
  EXPECT_TRUE(diff(want, want).empty());
}

TEST(OverlayPlanTest, DiffPeerLeftRemovesItsEntries) {
  auto state = three_hosts();
  state.hosts.pop_back();  // h3 gone from the state
  const auto d = diff(desired_entries(config(), state, nullptr), vxlan_entries_h2_h3());
  EXPECT_TRUE(d.to_add.empty()) << to_string(d.to_add);
  OverlayEntries gone;
  gone.routes = {vxlan_entries_h2_h3().routes[1]};
  gone.neighbours = {vxlan_entries_h2_h3().neighbours[1]};
  gone.fdb = {vxlan_entries_h2_h3().fdb[1]};
  EXPECT_EQ(d.to_remove, gone) << to_string(d.to_remove);
}

TEST(OverlayPlanTest, DiffPeerWentDownRemovesItsEntries) {
  auto state = three_hosts();
  state.hosts[2].status = "down";
  const auto d = diff(desired_entries(config(), state, nullptr), vxlan_entries_h2_h3());
  EXPECT_EQ(d.to_remove.routes.size(), 1u);
  EXPECT_EQ(d.to_remove.neighbours.size(), 1u);
  EXPECT_EQ(d.to_remove.fdb.size(), 1u);
}

TEST(OverlayPlanTest, DiffMacChangeReplacesNeighbourAndFdbKeepsRoute) {
  auto state = three_hosts();
  state.hosts[1].overlay.vtep_mac = "02:00:00:00:00:22";
  const auto d = diff(desired_entries(config(), state, nullptr), vxlan_entries_h2_h3());
  EXPECT_TRUE(d.to_add.routes.empty());
  ASSERT_EQ(d.to_add.neighbours.size(), 1u);
  EXPECT_EQ(d.to_add.neighbours[0], (OverlayNeighbour{ip("10.212.2.0"), "02:00:00:00:00:22"}));
  ASSERT_EQ(d.to_add.fdb.size(), 1u);
  EXPECT_EQ(d.to_add.fdb[0], (OverlayFdb{"02:00:00:00:00:22", ip("192.168.1.2")}));
  // The neighbour is replaced in place (same key); the old MAC's FDB entry has another key: removed.
  EXPECT_TRUE(d.to_remove.neighbours.empty());
  ASSERT_EQ(d.to_remove.fdb.size(), 1u);
  EXPECT_EQ(d.to_remove.fdb[0].mac, "02:00:00:00:00:02");
}

TEST(OverlayPlanTest, DiffUnderlayChangeReplacesFdbInPlace) {
  auto state = three_hosts();
  state.hosts[1].overlay.underlay = "192.168.1.22";
  const auto d = diff(desired_entries(config(), state, nullptr), vxlan_entries_h2_h3());
  ASSERT_EQ(d.to_add.fdb.size(), 1u);
  EXPECT_EQ(d.to_add.fdb[0].dst, ip("192.168.1.22"));
  EXPECT_TRUE(d.to_remove.empty()) << to_string(d.to_remove);
}

TEST(OverlayPlanTest, DiffModeChangeReplacesRoutesAndRemovesNeighboursAndFdb) {
  const auto d = diff(desired_entries(config("host-gw"), three_hosts("host-gw"), nullptr), vxlan_entries_h2_h3());
  EXPECT_EQ(d.to_add.routes.size(), 2u);
  EXPECT_TRUE(d.to_remove.routes.empty());  // same dst: replaced
  EXPECT_EQ(d.to_remove.neighbours.size(), 2u);
  EXPECT_EQ(d.to_remove.fdb.size(), 2u);
}

TEST(OverlayPlanTest, OwnConfigValidation) {
  EXPECT_TRUE(validate_overlay_config(config()).ok());
  EXPECT_TRUE(validate_overlay_config(config("host-gw")).ok());
  auto bad = [](std::function<void(OverlayConfig&)> f) {
    auto c = config();
    f(c);
    return validate_overlay_config(c);
  };
  EXPECT_EQ(bad([](auto& c) { c.mode = "udp"; }).field(), "mode");
  EXPECT_EQ(bad([](auto& c) { c.underlay = "::1"; }).field(), "underlay");
  EXPECT_EQ(bad([](auto& c) { c.underlay = "127.0.0.1"; }).field(), "underlay");
  EXPECT_EQ(bad([](auto& c) { c.vni = 0; }).field(), "vni");
  EXPECT_EQ(bad([](auto& c) { c.vni = 16777216; }).field(), "vni");
  EXPECT_TRUE(bad([](auto& c) { c.vni = 16777215; }).ok());
  EXPECT_EQ(bad([](auto& c) { c.port = 0; }).field(), "port");
  EXPECT_EQ(bad([](auto& c) { c.port = 65536; }).field(), "port");
  EXPECT_EQ(bad([](auto& c) { c.device = "pier-vxlan-toolong"; }).field(), "device");
  EXPECT_EQ(bad([](auto& c) { c.device = ""; }).field(), "device");
  EXPECT_EQ(bad([](auto& c) { c.host_id = ""; }).field(), "host_id");
  EXPECT_EQ(bad([](auto& c) { c.route_protocol = 2; }).field(), "route_protocol");
  EXPECT_EQ(bad([](auto& c) { c.probe_port = -1; }).field(), "probe_port");
}

TEST(OverlayPlanTest, ProbeTargetsAreTheOtherOverlayHostsFirstAddress) {
  auto state = three_hosts();
  state.hosts.push_back(host("h4", "10.212.4.0/24", "192.168.1.4", "02:00:00:00:00:04"));
  state.hosts[3].status = "down";
  state.hosts.push_back(host("h5", "10.212.5.0/24", "192.168.1.5", "", ""));  // no overlay
  state.hosts[1].overlay.vtep_mac = "bad";
  std::vector<Refusal> refused;
  desired_entries(config(), state, &refused);
  const auto targets = probe_targets(state, "h1", refused);
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_EQ(targets[0].host, "h2");
  EXPECT_EQ(targets[0].error.rfind("no overlay entry: overlay.vtep_mac: ", 0), 0u) << targets[0].error;
  EXPECT_EQ(targets[1].host, "h3");
  EXPECT_EQ(targets[1].ip, "10.212.3.1");
  EXPECT_EQ(targets[1].port, 7709);
  EXPECT_EQ(targets[1].error, "");
}

// Records the writes Overlay makes; holds the entries a kernel would.
class FakeNetlink final : public Netlink {
 public:
  Result<VxlanDevice> ensure_vxlan(const std::string& device, int vni, int port, uint32_t local, int mtu) override {
    (void)device, (void)vni, (void)port, (void)local;
    ++ensures;
    return VxlanDevice{7, "02:00:00:00:00:01", mtu};
  }
  Status remove_device(const std::string&) override { return write("remove_device"); }
  Status set_address(const std::string&, uint32_t address) override {
    this->address = address;
    return write("set_address " + net::format_ipv4(address));
  }
  Status ensure_up(const std::string&) override { return Status::Ok(); }
  Result<OverlayEntries> list_owned(const std::string&, int) override {
    ++lists;
    auto out = have;
    sort_entries(&out);
    return out;
  }
  Status add_or_replace(const OverlayRoute& r, const std::string&, int) override {
    std::erase_if(have.routes, [&](const auto& e) { return e.dst.base == r.dst.base; });
    have.routes.push_back(r);
    return write("add route " + to_string(r));
  }
  Status add_or_replace(const OverlayNeighbour& n, const std::string&) override {
    std::erase_if(have.neighbours, [&](const auto& e) { return e.ip == n.ip; });
    have.neighbours.push_back(n);
    return write("add neigh " + to_string(n));
  }
  Status add_or_replace(const OverlayFdb& f, const std::string&) override {
    if (fail_fdb) return Status::Error("fdb refused");
    std::erase_if(have.fdb, [&](const auto& e) { return e.mac == f.mac; });
    have.fdb.push_back(f);
    return write("add fdb " + to_string(f));
  }
  Status remove(const OverlayRoute& r, const std::string&, int) override {
    std::erase(have.routes, r);
    return write("remove route " + to_string(r));
  }
  Status remove(const OverlayNeighbour& n, const std::string&) override {
    std::erase(have.neighbours, n);
    return write("remove neigh " + to_string(n));
  }
  Status remove(const OverlayFdb& f, const std::string&) override {
    std::erase(have.fdb, f);
    return write("remove fdb " + to_string(f));
  }
  Status ensure_local_subnet(const net::Ipv4Net& subnet, int) override {
    local.push_back(subnet);
    return write("local " + net::format_cidr(subnet));
  }
  Status remove_local_subnet(const net::Ipv4Net& subnet, int) override {
    std::erase_if(local, [&](const auto& s) { return s.base == subnet.base; });
    return write("remove local " + net::format_cidr(subnet));
  }
  Result<std::vector<net::Ipv4Net>> local_subnets(int) override { return local; }
  Result<int> underlay_mtu(uint32_t) override { return 1500; }

  Status write(std::string what) {
    writes.push_back(std::move(what));
    return Status::Ok();
  }
  std::vector<std::string> writes;
  OverlayEntries have;
  std::vector<net::Ipv4Net> local;
  uint32_t address = 0;
  int ensures = 0;
  int lists = 0;
  bool fail_fdb = false;
};

// Captures what spdlog's default logger writes while it lives.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(lines_);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  int count(const std::string& part) const {
    int n = 0;
    std::istringstream in(lines_.str());
    for (std::string line; std::getline(in, line);) n += line.find(part) != std::string::npos;
    return n;
  }
  std::string text() const { return lines_.str(); }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream lines_;
};

TEST(OverlayTest, SetupReportsInfoVxlan) {
  FakeNetlink nl;
  Overlay overlay(config(), nl, false);
  ASSERT_TRUE(overlay.setup().ok());
  const auto info = overlay.info();
  EXPECT_EQ(info.mode, "vxlan");
  EXPECT_EQ(info.underlay, "192.168.1.1");
  EXPECT_EQ(info.vtep_mac, "02:00:00:00:00:01");
  EXPECT_EQ(info.vni, 1);
  EXPECT_EQ(info.port, 4789);
  EXPECT_EQ(info.mtu, 1450);
  EXPECT_EQ(info.probe_port, 7709);
}

TEST(OverlayTest, SetupRefusesABadConfig) {
  FakeNetlink nl;
  auto c = config();
  c.underlay = "fd00::1";
  Overlay overlay(c, nl, false);
  EXPECT_EQ(overlay.setup().field(), "underlay");
  EXPECT_EQ(nl.ensures, 0);
}

TEST(OverlayTest, ApplyWritesOnceNothingOnASecondApplyAndRemovesADepartedPeer) {
  FakeNetlink nl;
  Overlay overlay(config(), nl, true);
  ASSERT_TRUE(overlay.setup().ok());
  ASSERT_TRUE(overlay.apply(three_hosts()).ok());
  auto have = nl.have;
  sort_entries(&have);
  EXPECT_EQ(have, vxlan_entries_h2_h3()) << to_string(have);
  EXPECT_EQ(nl.address, ip("10.212.1.0"));
  ASSERT_EQ(nl.local.size(), 1u);
  EXPECT_EQ(net::format_cidr(nl.local[0]), "10.212.1.0/24");

  nl.writes.clear();
  ASSERT_TRUE(overlay.apply(three_hosts()).ok());
  EXPECT_TRUE(nl.writes.empty()) << testing::PrintToString(nl.writes);

  auto state = three_hosts();
  state.hosts.pop_back();
  ASSERT_TRUE(overlay.apply(state).ok());
  EXPECT_EQ(nl.writes, (std::vector<std::string>{"remove route 10.212.3.0/24 via 10.212.3.0 onlink",
                                                 "remove neigh 10.212.3.0 lladdr 02:00:00:00:00:03",
                                                 "remove fdb 02:00:00:00:00:03 dst 192.168.1.3"}));
}

TEST(OverlayTest, ApplyMovesTheDeviceAddressAndLocalRouteWithTheOwnSubnet) {
  FakeNetlink nl;
  Overlay overlay(config(), nl, true);
  ASSERT_TRUE(overlay.apply(three_hosts()).ok());  // sets itself up
  auto state = three_hosts();
  state.hosts[0].subnet = "10.212.9.0/24";
  nl.writes.clear();
  ASSERT_TRUE(overlay.apply(state).ok());
  EXPECT_EQ(nl.writes,
            (std::vector<std::string>{"set_address 10.212.9.0", "local 10.212.9.0/24", "remove local 10.212.1.0/24"}));
}

TEST(OverlayTest, ARefusalIsLoggedOnceUntilItChanges) {
  FakeNetlink nl;
  Overlay overlay(config(), nl, false);
  LogCapture log;
  auto state = three_hosts();
  state.hosts[1].overlay.vtep_mac = "zz";
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(overlay.apply(state).ok());
  EXPECT_EQ(log.count("no entry for host h2: overlay.vtep_mac"), 1) << log.text();
  ASSERT_EQ(overlay.refused().size(), 1u);
  EXPECT_EQ(overlay.refused()[0].field, "overlay.vtep_mac");
  EXPECT_EQ(nl.have.routes.size(), 1u);  // h3's only

  state.hosts[1].overlay.vni = 5;  // a second rule broken: logged, the first not again
  ASSERT_TRUE(overlay.apply(state).ok());
  EXPECT_EQ(log.count("no entry for host h2: overlay.vtep_mac"), 1) << log.text();
  EXPECT_EQ(log.count("no entry for host h2: overlay.vni"), 1) << log.text();

  ASSERT_TRUE(overlay.apply(three_hosts()).ok());  // fixed
  EXPECT_TRUE(overlay.refused().empty());
  EXPECT_EQ(nl.have.routes.size(), 2u);
  state.hosts[1].overlay.vni = 1;
  ASSERT_TRUE(overlay.apply(state).ok());  // broken again: logged again
  EXPECT_EQ(log.count("no entry for host h2: overlay.vtep_mac"), 2) << log.text();
}

TEST(OverlayTest, AFailedWriteIsLoggedOnceAndRetried) {
  FakeNetlink nl;
  nl.fail_fdb = true;
  Overlay overlay(config(), nl, false);
  LogCapture log;
  EXPECT_FALSE(overlay.apply(three_hosts()).ok());
  EXPECT_FALSE(overlay.apply(three_hosts()).ok());
  EXPECT_EQ(log.count("fdb refused"), 1) << log.text();
  nl.fail_fdb = false;
  EXPECT_TRUE(overlay.apply(three_hosts()).ok());
  auto have = nl.have;
  sort_entries(&have);
  EXPECT_EQ(have, vxlan_entries_h2_h3()) << to_string(have);
}

TEST(OverlayTest, HostGwDeletesALeftoverDeviceAndRoutesViaUnderlays) {
  FakeNetlink nl;
  Overlay overlay(config("host-gw"), nl, false);
  ASSERT_TRUE(overlay.apply(three_hosts("host-gw")).ok());
  EXPECT_EQ(nl.writes.front(), "remove_device");
  EXPECT_EQ(nl.ensures, 0);
  EXPECT_EQ(overlay.info().mtu, 1500);
  EXPECT_EQ(overlay.info().vtep_mac, "");
  EXPECT_EQ(nl.have.routes.size(), 2u);
  EXPECT_EQ(nl.address, 0u);  // no device, no address
}

}  // namespace
}  // namespace pier::agent
