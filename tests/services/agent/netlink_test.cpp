// The overlay against the real kernel. Every test makes its own network namespaces (a thread each that
// unshare(CLONE_NEWNET)s: a namespace belongs to the thread, and to the threads it starts) and never
// touches the namespace the test runs in. Root is needed; without it the tests skip.
#include "services/agent/netlink.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>

#include "services/agent/overlay.h"
#include "services/agent/peer_probe.h"

namespace pier::agent {
namespace {

uint32_t ip(const char* text) { return *net::parse_ipv4(text); }
net::Ipv4Net cidr(const char* text) { return *net::parse_cidr(text); }

// A thread in a network namespace of its own, which lives as long as this object. run() executes a
// function on that thread and waits for it; it runs nothing when the namespace could not be made.
class Netns {
 public:
  Netns() {
    thread_ = std::thread([this] { loop(); });
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return started_; });
  }
  ~Netns() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return error_ == 0; }
  std::string error() const { return std::strerror(error_); }
  int fd() const { return fd_; }  // the namespace, for IFLA_NET_NS_FD

  void run(const std::function<void()>& fn) {
    if (!ok()) {
      ADD_FAILURE() << "no network namespace: " << error();
      return;
    }
    std::unique_lock lock(mutex_);
    task_ = &fn;
    cv_.notify_all();
    cv_.wait(lock, [&] { return task_ == nullptr; });
  }

 private:
  void loop() {
    {
      std::lock_guard lock(mutex_);
      if (::unshare(CLONE_NEWNET) != 0) {
        error_ = errno;
      } else {
        fd_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
      }
      started_ = true;
    }
    cv_.notify_all();
    std::unique_lock lock(mutex_);
    for (;;) {
      cv_.wait(lock, [&] { return stopping_ || task_ != nullptr; });
      if (task_ != nullptr) {
        (*task_)();
        task_ = nullptr;
        cv_.notify_all();
        continue;
      }
      if (stopping_) return;
    }
  }

  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  const std::function<void()>* task_ = nullptr;
  bool started_ = false;
  bool stopping_ = false;
  int error_ = 0;
  int fd_ = -1;
};

#define SKIP_UNLESS_NETNS(ns)                                                            \
  do {                                                                                   \
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces)";             \
    if (!(ns).ok()) GTEST_SKIP() << "cannot make a network namespace: " << (ns).error(); \
  } while (0)

// Direct libnl calls for what the test sets up around the agent's entries (links, foreign routes).
class Kernel {
 public:
  Kernel() {
    sock_ = nl_socket_alloc();
    EXPECT_EQ(nl_connect(sock_, NETLINK_ROUTE), 0);
  }
  ~Kernel() { nl_socket_free(sock_); }

  rtnl_link* link(const std::string& name) {
    rtnl_link* l = nullptr;
    return rtnl_link_get_kernel(sock_, 0, name.c_str(), &l) == 0 ? l : nullptr;
  }
  void up(const std::string& name) {
    rtnl_link* l = link(name);
    ASSERT_NE(l, nullptr) << name;
    rtnl_link* change = rtnl_link_alloc();
    rtnl_link_set_flags(change, IFF_UP);
    EXPECT_EQ(rtnl_link_change(sock_, l, change, 0), 0) << name;
    rtnl_link_put(change);
    rtnl_link_put(l);
  }
  void address(const std::string& name, const char* address, int prefix) {
    rtnl_link* l = link(name);
    ASSERT_NE(l, nullptr) << name;
    rtnl_addr* a = rtnl_addr_alloc();
    rtnl_addr_set_ifindex(a, rtnl_link_get_ifindex(l));
    nl_addr* local = nullptr;
    ASSERT_EQ(nl_addr_parse(address, AF_INET, &local), 0);
    nl_addr_set_prefixlen(local, prefix);
    rtnl_addr_set_local(a, local);
    EXPECT_EQ(rtnl_addr_add(sock_, a, 0), 0) << address;
    nl_addr_put(local);
    rtnl_addr_put(a);
    rtnl_link_put(l);
  }
  // A veth pair whose ends both stay here, `name` with an address, both up: an underlay for one
  // namespace (this kernel may have no dummy driver). What is sent to the other end goes nowhere.
  void underlay(const std::string& name, const char* local, int prefix, int mtu) {
    const std::string peer = name + "p";
    veth_pair(name, peer);
    rtnl_link* l = link(name);
    ASSERT_NE(l, nullptr);
    rtnl_link* change = rtnl_link_alloc();
    rtnl_link_set_mtu(change, mtu);
    EXPECT_EQ(rtnl_link_change(sock_, l, change, 0), 0);
    rtnl_link_put(change);
    rtnl_link_put(l);
    address(name, local, prefix);
    up(name);
    up(peer);
  }
  // A veth pair, both ends here. (Not rtnl_link_veth_add: it puts the peer in the namespace of a
  // process, and this process's main thread is in the host's namespace.)
  void veth_pair(const std::string& a, const std::string& b) {
    rtnl_link* l = rtnl_link_veth_alloc();
    rtnl_link_set_name(l, a.c_str());
    rtnl_link* peer = rtnl_link_veth_get_peer(l);  // takes a reference of its own
    rtnl_link_set_name(peer, b.c_str());
    rtnl_link_put(peer);
    ASSERT_EQ(rtnl_link_add(sock_, l, NLM_F_CREATE | NLM_F_EXCL), 0) << a;
    rtnl_link_veth_release(l);
  }
  // A veth pair made here, its end `b` then moved to the namespace netns_fd.
  void veth(const std::string& a, const std::string& b, int netns_fd) {
    veth_pair(a, b);
    rtnl_link* peer = link(b);
    ASSERT_NE(peer, nullptr);
    rtnl_link* change = rtnl_link_alloc();
    rtnl_link_set_ns_fd(change, netns_fd);
    EXPECT_EQ(rtnl_link_change(sock_, peer, change, 0), 0);
    rtnl_link_put(change);
    rtnl_link_put(peer);
  }
  // A route in table main with a protocol that is not the agent's.
  void foreign_route(const char* dst, int prefix, const char* gateway, int protocol) {
    rtnl_route* r = rtnl_route_alloc();
    nl_addr* d = nullptr;
    nl_addr_parse(dst, AF_INET, &d);
    nl_addr_set_prefixlen(d, prefix);
    rtnl_route_set_dst(r, d);
    rtnl_route_set_protocol(r, protocol);
    rtnl_route_set_table(r, RT_TABLE_MAIN);
    rtnl_nexthop* nh = rtnl_route_nh_alloc();
    nl_addr* gw = nullptr;
    nl_addr_parse(gateway, AF_INET, &gw);
    rtnl_route_nh_set_gateway(nh, gw);
    rtnl_route_add_nexthop(r, nh);
    EXPECT_EQ(rtnl_route_add(sock_, r, NLM_F_EXCL), 0) << dst;
    nl_addr_put(gw);
    nl_addr_put(d);
    rtnl_route_put(r);
  }
  // The protocol of the main table's route to dst/prefix, -1 when there is none.
  int route_protocol(const char* dst, int prefix) {
    nl_cache* cache = nullptr;
    EXPECT_EQ(rtnl_route_alloc_cache(sock_, AF_INET, 0, &cache), 0);
    int out = -1;
    for (nl_object* o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
      auto* r = reinterpret_cast<rtnl_route*>(o);
      char buf[64];
      nl_addr* d = rtnl_route_get_dst(r);
      if (rtnl_route_get_table(r) == RT_TABLE_MAIN && nl_addr_get_prefixlen(d) == static_cast<unsigned>(prefix) &&
          std::string(nl_addr2str(d, buf, sizeof buf)) == std::string(dst) + "/" + std::to_string(prefix))
        out = rtnl_route_get_protocol(r);
    }
    nl_cache_free(cache);
    return out;
  }
  // A permanent neighbour on a device (not the agent's).
  void foreign_neighbour(const std::string& device, const char* address, const char* mac) {
    rtnl_link* l = link(device);
    ASSERT_NE(l, nullptr);
    rtnl_neigh* n = rtnl_neigh_alloc();
    rtnl_neigh_set_ifindex(n, rtnl_link_get_ifindex(l));
    nl_addr* dst = nullptr;
    nl_addr* ll = nullptr;
    nl_addr_parse(address, AF_INET, &dst);
    nl_addr_parse(mac, AF_LLC, &ll);
    rtnl_neigh_set_dst(n, dst);
    rtnl_neigh_set_lladdr(n, ll);
    rtnl_neigh_set_state(n, NUD_PERMANENT);
    EXPECT_EQ(rtnl_neigh_add(sock_, n, NLM_F_CREATE), 0);
    nl_addr_put(dst);
    nl_addr_put(ll);
    rtnl_neigh_put(n);
    rtnl_link_put(l);
  }
  bool has_neighbour(const std::string& device, const char* address) {
    rtnl_link* l = link(device);
    if (l == nullptr) return false;
    nl_cache* cache = nullptr;
    EXPECT_EQ(rtnl_neigh_alloc_cache(sock_, &cache), 0);
    nl_addr* dst = nullptr;
    nl_addr_parse(address, AF_INET, &dst);
    rtnl_neigh* n = rtnl_neigh_get(cache, rtnl_link_get_ifindex(l), dst);
    const bool found = n != nullptr;
    if (n) rtnl_neigh_put(n);
    nl_addr_put(dst);
    nl_cache_free(cache);
    rtnl_link_put(l);
    return found;
  }

 private:
  nl_sock* sock_ = nullptr;
};

OverlayConfig config(const std::string& host, const std::string& underlay, const std::string& mode = "vxlan") {
  OverlayConfig c;
  c.mode = mode;
  c.host_id = host;
  c.underlay = underlay;
  return c;
}

// errno of bind(ip:0), 0 when it succeeds.
int bind_error(const char* address) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  ::inet_pton(AF_INET, address, &a.sin_addr);
  const int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  const int error = rc == 0 ? 0 : errno;
  ::close(fd);
  return error;
}

TEST(NetlinkTest, VxlanDeviceAsAskedKeptOnASecondSetupRecreatedWhenItDiffers) {
  Netns ns;
  SKIP_UNLESS_NETNS(ns);
  ns.run([] {
    Kernel k;
    k.underlay("under0", "192.168.50.1", 24, 1400);
    LibnlNetlink nl;
    ASSERT_TRUE(nl.status().ok()) << nl.status().message();
    Overlay overlay(config("h1", "192.168.50.1"), nl, false);
    auto s = overlay.setup();
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(overlay.info().mtu, 1350);  // underlay 1400 - 50

    rtnl_link* l = k.link("pier-vxlan");
    ASSERT_NE(l, nullptr);
    ASSERT_TRUE(rtnl_link_is_vxlan(l));
    uint32_t id = 0, port = 0;
    rtnl_link_vxlan_get_id(l, &id);
    rtnl_link_vxlan_get_port(l, &port);
    nl_addr* local = nullptr;
    rtnl_link_vxlan_get_local(l, &local);
    char buf[64];
    EXPECT_EQ(id, 1u);
    EXPECT_EQ(port, 4789u);
    EXPECT_STREQ(nl_addr2str(local, buf, sizeof buf), "192.168.50.1");
    EXPECT_EQ(rtnl_link_vxlan_get_learning(l), 0);
    EXPECT_EQ(rtnl_link_get_mtu(l), 1350u);
    EXPECT_TRUE(rtnl_link_get_flags(l) & IFF_UP);
    EXPECT_STREQ(nl_addr2str(rtnl_link_get_addr(l), buf, sizeof buf), overlay.info().vtep_mac.c_str());
    const int ifindex = rtnl_link_get_ifindex(l);
    nl_addr_put(local);
    rtnl_link_put(l);

    // A second agent (a restart): the same device, kept.
    Overlay again(config("h1", "192.168.50.1"), nl, false);
    ASSERT_TRUE(again.setup().ok());
    EXPECT_EQ(again.info().vtep_mac, overlay.info().vtep_mac);
    l = k.link("pier-vxlan");
    EXPECT_EQ(rtnl_link_get_ifindex(l), ifindex);
    rtnl_link_put(l);

    // Another vni: recreated.
    auto c = config("h1", "192.168.50.1");
    c.vni = 42;
    Overlay other(c, nl, false);
    ASSERT_TRUE(other.setup().ok());
    l = k.link("pier-vxlan");
    rtnl_link_vxlan_get_id(l, &id);
    EXPECT_EQ(id, 42u);
    EXPECT_NE(rtnl_link_get_ifindex(l), ifindex);
    rtnl_link_put(l);

    // host-gw: the device is deleted.
    Overlay host_gw(config("h1", "192.168.50.1", "host-gw"), nl, false);
    ASSERT_TRUE(host_gw.setup().ok());
    EXPECT_EQ(k.link("pier-vxlan"), nullptr);
    EXPECT_EQ(host_gw.info().mtu, 1400);
  });
}

TEST(NetlinkTest, EntriesAddedListedReplacedAndRemoved) {
  Netns ns;
  SKIP_UNLESS_NETNS(ns);
  ns.run([] {
    Kernel k;
    k.underlay("under0", "192.168.50.1", 24, 1500);
    LibnlNetlink nl;
    const std::string dev = "pier-vxlan";
    auto device = nl.ensure_vxlan(dev, 1, 4789, ip("192.168.50.1"), 1450);
    ASSERT_TRUE(device.ok()) << device.status().message();
    ASSERT_TRUE(nl.ensure_up(dev).ok());
    ASSERT_TRUE(nl.set_address(dev, ip("10.212.1.0")).ok());

    OverlayEntries want;
    want.routes = {{cidr("10.212.2.0/24"), ip("10.212.2.0"), true},
                   {cidr("10.212.5.0/24"), ip("192.168.50.5"), false}};  // a host-gw one too
    want.neighbours = {{ip("10.212.2.0"), "02:00:00:00:00:02"}};
    want.fdb = {{"02:00:00:00:00:02", ip("192.168.50.2")}};
    for (const auto& e : want.fdb) ASSERT_TRUE(nl.add_or_replace(e, dev).ok());
    for (const auto& e : want.neighbours) ASSERT_TRUE(nl.add_or_replace(e, dev).ok());
    for (const auto& e : want.routes) {
      auto s = nl.add_or_replace(e, dev, kRouteProtocol);
      ASSERT_TRUE(s.ok()) << s.message();
    }
    auto have = nl.list_owned(dev, kRouteProtocol);
    ASSERT_TRUE(have.ok()) << have.status().message();
    sort_entries(&want);
    EXPECT_EQ(*have, want) << "have:\n" << to_string(*have) << "want:\n" << to_string(want);

    // Again: idempotent.
    for (const auto& e : want.fdb) EXPECT_TRUE(nl.add_or_replace(e, dev).ok());
    for (const auto& e : want.neighbours) EXPECT_TRUE(nl.add_or_replace(e, dev).ok());
    for (const auto& e : want.routes) EXPECT_TRUE(nl.add_or_replace(e, dev, kRouteProtocol).ok());
    EXPECT_EQ(*nl.list_owned(dev, kRouteProtocol), want);

    // Replaced in place: the neighbour's MAC, the FDB entry's destination, a route's gateway.
    want.neighbours[0].mac = "02:00:00:00:00:22";
    want.fdb[0].dst = ip("192.168.50.22");
    want.routes[1].gateway = ip("192.168.50.55");
    ASSERT_TRUE(nl.add_or_replace(want.neighbours[0], dev).ok());
    ASSERT_TRUE(nl.add_or_replace(want.fdb[0], dev).ok());
    auto s = nl.add_or_replace(want.routes[1], dev, kRouteProtocol);
    ASSERT_TRUE(s.ok()) << s.message();
    have = nl.list_owned(dev, kRouteProtocol);
    EXPECT_EQ(*have, want) << "have:\n" << to_string(*have) << "want:\n" << to_string(want);

    for (const auto& e : want.routes) EXPECT_TRUE(nl.remove(e, dev, kRouteProtocol).ok());
    for (const auto& e : want.neighbours) EXPECT_TRUE(nl.remove(e, dev).ok());
    for (const auto& e : want.fdb) EXPECT_TRUE(nl.remove(e, dev).ok());
    have = nl.list_owned(dev, kRouteProtocol);
    EXPECT_TRUE(have->empty()) << to_string(*have);
    // Gone already: not an error.
    for (const auto& e : want.routes) EXPECT_TRUE(nl.remove(e, dev, kRouteProtocol).ok());
    for (const auto& e : want.neighbours) EXPECT_TRUE(nl.remove(e, dev).ok());
    for (const auto& e : want.fdb) EXPECT_TRUE(nl.remove(e, dev).ok());
  });
}

TEST(NetlinkTest, AnotherProtocolsRouteAndAForeignNeighbourAreLeftAlone) {
  Netns ns;
  SKIP_UNLESS_NETNS(ns);
  ns.run([] {
    Kernel k;
    k.underlay("under0", "192.168.50.1", 24, 1500);
    k.foreign_route("10.99.0.0", 24, "192.168.50.9", RTPROT_STATIC);
    k.foreign_route("10.212.2.0", 24, "192.168.50.9", RTPROT_BOOT);  // where a peer's would go
    k.foreign_neighbour("under0", "192.168.50.9", "02:00:00:00:00:99");
    LibnlNetlink nl;
    Overlay overlay(config("h1", "192.168.50.1"), nl, false);
    ASSERT_TRUE(overlay.setup().ok());
    auto have = nl.list_owned("pier-vxlan", kRouteProtocol);
    ASSERT_TRUE(have.ok());
    EXPECT_TRUE(have->empty()) << to_string(*have);

    // A peer whose route key another protocol holds: refused, not replaced.
    auto s =
        nl.add_or_replace(OverlayRoute{cidr("10.212.2.0/24"), ip("10.212.2.0"), true}, "pier-vxlan", kRouteProtocol);
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("not the agent's"), std::string::npos) << s.message();
    EXPECT_EQ(k.route_protocol("10.212.2.0", 24), RTPROT_BOOT);

    // A state without peers: the agent removes its own entries, nothing else.
    msg::State state;
    msg::HostRecord me;
    me.id = "h1";
    me.subnet = "10.212.1.0/24";
    state.hosts.push_back(me);
    EXPECT_TRUE(overlay.apply(state).ok());
    EXPECT_EQ(k.route_protocol("10.99.0.0", 24), RTPROT_STATIC);
    EXPECT_EQ(k.route_protocol("10.212.2.0", 24), RTPROT_BOOT);
    EXPECT_TRUE(k.has_neighbour("under0", "192.168.50.9"));
  });
}

TEST(NetlinkTest, LocalSubnetLetsASocketBindAnyAddressOfIt) {
  Netns ns;
  SKIP_UNLESS_NETNS(ns);
  ns.run([] {
    Kernel k;
    k.up("lo");
    LibnlNetlink nl;
    EXPECT_EQ(bind_error("10.212.9.7"), EADDRNOTAVAIL);
    auto s = nl.ensure_local_subnet(cidr("10.212.9.0/24"), kRouteProtocol);
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_TRUE(nl.ensure_local_subnet(cidr("10.212.9.0/24"), kRouteProtocol).ok());  // idempotent
    EXPECT_EQ(bind_error("10.212.9.7"), 0);
    EXPECT_EQ(bind_error("10.212.9.200"), 0);
    auto local = nl.local_subnets(kRouteProtocol);
    ASSERT_TRUE(local.ok());
    ASSERT_EQ(local->size(), 1u);
    EXPECT_EQ(net::format_cidr((*local)[0]), "10.212.9.0/24");
    EXPECT_TRUE(nl.local_subnets(kRouteProtocol + 1)->empty());  // another protocol's: none
    ASSERT_TRUE(nl.remove_local_subnet(cidr("10.212.9.0/24"), kRouteProtocol).ok());
    EXPECT_TRUE(nl.local_subnets(kRouteProtocol)->empty());
    EXPECT_EQ(bind_error("10.212.9.7"), EADDRNOTAVAIL);
    EXPECT_TRUE(nl.remove_local_subnet(cidr("10.212.9.0/24"), kRouteProtocol).ok());  // gone: fine
  });
}

// The real Netlink, counting the calls that write.
class CountingNetlink final : public Netlink {
 public:
  explicit CountingNetlink(Netlink& real) : real_(real) {}
  Result<VxlanDevice> ensure_vxlan(const std::string& d, int vni, int port, uint32_t local, int mtu) override {
    return real_.ensure_vxlan(d, vni, port, local, mtu);
  }
  Status remove_device(const std::string& d) override { return count(real_.remove_device(d)); }
  Status set_address(const std::string& d, uint32_t a) override { return count(real_.set_address(d, a)); }
  Status ensure_up(const std::string& d) override { return real_.ensure_up(d); }
  Result<OverlayEntries> list_owned(const std::string& d, int p) override { return real_.list_owned(d, p); }
  Status add_or_replace(const OverlayRoute& e, const std::string& d, int p) override {
    return count(real_.add_or_replace(e, d, p));
  }
  Status add_or_replace(const OverlayNeighbour& e, const std::string& d) override {
    return count(real_.add_or_replace(e, d));
  }
  Status add_or_replace(const OverlayFdb& e, const std::string& d) override {
    return count(real_.add_or_replace(e, d));
  }
  Status remove(const OverlayRoute& e, const std::string& d, int p) override { return count(real_.remove(e, d, p)); }
  Status remove(const OverlayNeighbour& e, const std::string& d) override { return count(real_.remove(e, d)); }
  Status remove(const OverlayFdb& e, const std::string& d) override { return count(real_.remove(e, d)); }
  Status ensure_local_subnet(const net::Ipv4Net& s, int p) override { return count(real_.ensure_local_subnet(s, p)); }
  Status remove_local_subnet(const net::Ipv4Net& s, int p) override { return count(real_.remove_local_subnet(s, p)); }
  Result<std::vector<net::Ipv4Net>> local_subnets(int p) override { return real_.local_subnets(p); }
  Result<int> underlay_mtu(uint32_t u) override { return real_.underlay_mtu(u); }
  int writes = 0;

 private:
  Status count(Status s) {
    ++writes;
    return s;
  }
  Netlink& real_;
};

msg::HostRecord peer(const std::string& id, const std::string& subnet, const std::string& underlay,
                     const std::string& mac) {
  msg::HostRecord h;
  h.id = id;
  h.subnet = subnet;
  h.overlay = {"vxlan", underlay, mac, 1, 4789, 1450, 7709};
  return h;
}

TEST(NetlinkTest, OverlayWritesNothingWhenTheKernelHasThePlanAndReplacesAChangedMac) {
  Netns ns;
  SKIP_UNLESS_NETNS(ns);
  ns.run([] {
    Kernel k;
    k.underlay("under0", "192.168.50.1", 24, 1500);
    LibnlNetlink real;
    CountingNetlink nl(real);
    Overlay overlay(config("h1", "192.168.50.1"), nl, true);
    msg::State state;
    msg::HostRecord me;
    me.id = "h1";
    me.subnet = "10.212.1.0/24";
    state.hosts = {me, peer("h2", "10.212.2.0/24", "192.168.50.2", "0A:00:00:00:00:02"),
                   peer("h3", "10.212.3.0/26", "192.168.50.3", "0a:00:00:00:00:03")};
    auto s = overlay.apply(state);
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(nl.writes, 2 + 3 * 2);  // address, local route; route, neighbour, FDB entry per peer
    const auto planned = desired_entries(overlay.config(), state, nullptr);
    EXPECT_EQ(*real.list_owned("pier-vxlan", kRouteProtocol), planned);

    // The kernel lists back what the plan says (MACs, onlink, prefixes): the next states write nothing.
    nl.writes = 0;
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(overlay.apply(state).ok());
    EXPECT_EQ(nl.writes, 0);

    // h2's agent recreated its device: a new MAC.
    state.hosts[1].overlay.vtep_mac = "0a:00:00:00:00:22";
    ASSERT_TRUE(overlay.apply(state).ok());
    EXPECT_EQ(nl.writes, 3);  // neighbour and FDB entry replaced, the old MAC's FDB entry removed
    auto have = real.list_owned("pier-vxlan", kRouteProtocol);
    EXPECT_EQ(*have, desired_entries(overlay.config(), state, nullptr)) << to_string(*have);

    // h3 goes down: its entries go.
    state.hosts[2].status = "down";
    ASSERT_TRUE(overlay.apply(state).ok());
    have = real.list_owned("pier-vxlan", kRouteProtocol);
    ASSERT_EQ(have->routes.size(), 1u) << to_string(*have);
    EXPECT_EQ(net::format_cidr(have->routes[0].dst), "10.212.2.0/24");
    EXPECT_EQ(have->fdb, (std::vector<OverlayFdb>{{"0a:00:00:00:00:22", ip("192.168.50.2")}}));
  });
}

// Connects to ip:port within timeout_ms; the local address it left from in *from.
bool tcp_connect(const char* address, int port, int timeout_ms, std::string* from) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, address, &a.sin_addr);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  if (!ok && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int error = -1;
    socklen_t len = sizeof error;
    ok = ::poll(&p, 1, timeout_ms) == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == 0 && error == 0;
  }
  if (ok && from != nullptr) {
    sockaddr_in local{};
    socklen_t len = sizeof local;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
    *from = net::format_ipv4(ntohl(local.sin_addr.s_addr));
  }
  ::close(fd);
  return ok;
}

msg::HostRecord record(const std::string& id, const std::string& subnet, const msg::OverlayInfo& overlay) {
  msg::HostRecord h;
  h.id = id;
  h.subnet = subnet;
  h.overlay = overlay;
  return h;
}

// Strict reverse-path filtering in the calling thread's namespace. The sysctls under /proc/sys/net are
// those of the namespace of the thread that opens them: `own_device` (which only this namespace has)
// being listed there proves it.
void strict_rp_filter(const std::string& own_device) {
  ASSERT_TRUE(std::filesystem::exists("/proc/sys/net/ipv4/conf/" + own_device)) << "not this namespace's sysctls";
  for (const char* conf : {"all", "default"}) {
    std::ofstream out(std::string("/proc/sys/net/ipv4/conf/") + conf + "/rp_filter");
    out << "1\n";
    ASSERT_TRUE(out.flush().good()) << conf;
  }
}

uint64_t rx_packets(const std::string& device) {
  Kernel k;
  rtnl_link* l = k.link(device);
  if (l == nullptr) return 0;
  const uint64_t n = rtnl_link_get_stat(l, RTNL_LINK_RX_PACKETS);
  rtnl_link_put(l);
  return n;
}

// Two hosts in two namespaces joined by a veth pair (the underlay), each with its Overlay from one
// State: an instance address in h2's subnet is reachable from h1, with strict rp_filter on both.
class TwoHostsTest : public testing::TestWithParam<std::string> {};

TEST_P(TwoHostsTest, ReachEachOthersSubnetsAndEntriesGoWhenAPeerLeaves) {
  const std::string mode = GetParam();
  const bool vxlan = mode == "vxlan";
  Netns ns1;
  Netns ns2;
  SKIP_UNLESS_NETNS(ns1);
  SKIP_UNLESS_NETNS(ns2);
  // The underlay: a veth pair made in ns1, one end moved to ns2.
  ns1.run([&] {
    Kernel k;
    k.veth("under1", "under2", ns2.fd());
    k.address("under1", "192.168.77.1", 24);
    k.up("under1");
    k.up("lo");
    strict_rp_filter("under1");
  });
  ns2.run([] {
    Kernel k;
    k.address("under2", "192.168.77.2", 24);
    k.up("under2");
    k.up("lo");
    strict_rp_filter("under2");
  });

  std::unique_ptr<LibnlNetlink> nl1, nl2;
  std::unique_ptr<Overlay> o1, o2;
  ns1.run([&] {
    nl1 = std::make_unique<LibnlNetlink>();
    o1 = std::make_unique<Overlay>(config("h1", "192.168.77.1", mode), *nl1, true);
    auto s = o1->setup();
    ASSERT_TRUE(s.ok()) << s.message();
  });
  ns2.run([&] {
    nl2 = std::make_unique<LibnlNetlink>();
    o2 = std::make_unique<Overlay>(config("h2", "192.168.77.2", mode), *nl2, true);
    auto s = o2->setup();
    ASSERT_TRUE(s.ok()) << s.message();
  });
  ASSERT_TRUE(o1 && o2);
  EXPECT_EQ(o1->info().mtu, vxlan ? 1450 : 1500);
  msg::State state;
  state.hosts = {record("h1", "10.212.1.0/24", o1->info()), record("h2", "10.212.2.0/24", o2->info())};
  ns1.run([&] {
    auto s = o1->apply(state);
    EXPECT_TRUE(s.ok()) << s.message();
  });

  // In ns2: an instance's listener on an address of its subnet (bindable thanks to the local route)
  // and the agent's probe listener on the subnet's first address.
  int listener = -1;
  ProbeListener probe;
  ns2.run([&] {
    auto s = o2->apply(state);
    EXPECT_TRUE(s.ok()) << s.message();
    listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(8080);
    ::inet_pton(AF_INET, "10.212.2.5", &a.sin_addr);
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);
    ASSERT_EQ(::listen(listener, 8), 0);
    auto p = probe.listen("10.212.2.1", 7709);
    ASSERT_TRUE(p.ok()) << p.message();
    auto have = nl2->list_owned("pier-vxlan", kRouteProtocol);
    ASSERT_TRUE(have.ok());
    EXPECT_EQ(have->routes.size(), 1u) << to_string(*have);
  });

  ns1.run([&] {
    const uint64_t rx_before = rx_packets("pier-vxlan");
    std::string from;
    EXPECT_TRUE(tcp_connect("10.212.2.5", 8080, 3000, &from));
    // vxlan: the device's address, so that replies come back through the overlay.
    EXPECT_EQ(from, vxlan ? "10.212.1.0" : "192.168.77.1");
    if (vxlan) {
      EXPECT_GT(rx_packets("pier-vxlan"), rx_before);  // the SYN-ACK came through the VXLAN device
    }
    auto reach = probe_peers(probe_targets(state, "h1", o1->refused()), 3000);
    ASSERT_EQ(reach.size(), 1u);
    EXPECT_EQ(reach[0].host, "h2");
    EXPECT_TRUE(reach[0].reachable) << reach[0].error;
    EXPECT_GT(reach[0].rtt_us, 0);
    // Nothing listens there: refused, which also came back through the overlay.
    EXPECT_FALSE(tcp_connect("10.212.2.5", 8081, 3000, nullptr));
  });

  // h2 leaves the state: its entries go from h1, and the probe says it is unreachable.
  msg::State alone;
  alone.hosts = {state.hosts[0]};
  ns1.run([&] {
    EXPECT_TRUE(o1->apply(alone).ok());
    auto have = nl1->list_owned("pier-vxlan", kRouteProtocol);
    ASSERT_TRUE(have.ok());
    EXPECT_TRUE(have->empty()) << to_string(*have);
    auto reach = probe_peers({{"h2", "10.212.2.1", 7709, ""}}, 300);
    EXPECT_FALSE(reach[0].reachable);
    EXPECT_EQ(reach[0].error, "network unreachable");  // no route left to h2's subnet
  });
  ns2.run([&] {
    probe.stop();
    ::close(listener);
    o2.reset();
    nl2.reset();
  });
  ns1.run([&] {
    o1.reset();
    nl1.reset();
  });
}

INSTANTIATE_TEST_SUITE_P(Modes, TwoHostsTest, testing::Values("vxlan", "host-gw"),
                         [](const testing::TestParamInfo<std::string>& info) {
                           return info.param == "vxlan" ? std::string("Vxlan") : std::string("HostGw");
                         });

// A connection from h1 to an instance of h2 with a request not yet acknowledged when h2 goes down: its
// route, neighbour and FDB entry leave h1, so the retransmissions fail locally ("network unreachable").
// The socket's 500 ms TCP_USER_TIMEOUT (HAProxy's tcp-ut) still ends the connection, so HAProxy retries
// the request elsewhere: removing a down host's entries does not make its connections hang. (Kernels
// that counted a locally failed retransmission as congestion, never towards the user timeout, would
// hang here: this is the check.)
TEST(NetlinkTest, UserTimeoutEndsAConnectionToAPeerThatWentDown) {
  Netns ns1;
  Netns ns2;
  SKIP_UNLESS_NETNS(ns1);
  SKIP_UNLESS_NETNS(ns2);
  ns1.run([&] {
    Kernel k;
    k.veth("under1", "under2", ns2.fd());
    k.address("under1", "192.168.78.1", 24);
    k.up("under1");
    k.up("lo");
  });
  ns2.run([] {
    Kernel k;
    k.address("under2", "192.168.78.2", 24);
    k.up("under2");
    k.up("lo");
  });
  std::unique_ptr<LibnlNetlink> nl1, nl2;
  std::unique_ptr<Overlay> o1, o2;
  auto make = [&](const char* host, const char* underlay, std::unique_ptr<LibnlNetlink>& nl,
                  std::unique_ptr<Overlay>& o) {
    nl = std::make_unique<LibnlNetlink>();
    o = std::make_unique<Overlay>(config(host, underlay), *nl, true);
    auto s = o->setup();
    ASSERT_TRUE(s.ok()) << s.message();
  };
  ns1.run([&] { make("h1", "192.168.78.1", nl1, o1); });
  ns2.run([&] { make("h2", "192.168.78.2", nl2, o2); });
  ASSERT_TRUE(o1 && o2);
  msg::State state;
  state.hosts = {record("h1", "10.212.1.0/24", o1->info()), record("h2", "10.212.2.0/24", o2->info())};
  int listener = -1;
  ns2.run([&] {
    ASSERT_TRUE(o2->apply(state).ok());
    listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(8080);
    ::inet_pton(AF_INET, "10.212.2.5", &a.sin_addr);
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);
    ASSERT_EQ(::listen(listener, 8), 0);
  });
  ns1.run([&] {
    ASSERT_TRUE(o1->apply(state).ok());
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const unsigned user_timeout_ms = 500;
    ASSERT_EQ(::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms), 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(8080);
    ::inet_pton(AF_INET, "10.212.2.5", &a.sin_addr);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);

    msg::State down = state;
    down.hosts[1].status = "down";
    ASSERT_TRUE(o1->apply(down).ok());
    const char request[] = "GET / HTTP/1.1\r\n\r\n";
    ASSERT_EQ(::send(fd, request, sizeof request - 1, MSG_NOSIGNAL), static_cast<ssize_t>(sizeof request - 1));
    const auto sent = std::chrono::steady_clock::now();
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, 3000);
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - sent);
    int error = 0;
    socklen_t len = sizeof error;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
    EXPECT_EQ(ready, 1) << "the connection outlived its user timeout by " << waited.count() << " ms";
    EXPECT_EQ(error, ETIMEDOUT) << std::strerror(error);
    EXPECT_LT(waited.count(), 2500);
    ::close(fd);
  });
  ns2.run([&] {
    ::close(listener);
    o2.reset();
    nl2.reset();
  });
  ns1.run([&] {
    o1.reset();
    nl1.reset();
  });
}

TEST(PeerProbeTest, ListenerAcceptsMovesAndStops) {
  Netns ns;
  SKIP_UNLESS_NETNS(ns);
  ns.run([] {
    Kernel k;
    k.up("lo");
    ProbeListener listener;
    ASSERT_TRUE(listener.listen("127.0.0.1", 0).ok());
    const int port = listener.port();
    ASSERT_GT(port, 0);
    auto reach = probe_peers({{"h2", "127.0.0.1", port, ""}}, 1000);
    EXPECT_TRUE(reach[0].reachable) << reach[0].error;
    // The same address and port: nothing changes.
    ASSERT_TRUE(listener.listen("127.0.0.1", 0).ok());
    EXPECT_EQ(listener.port(), port);
    // Moved: the old port refuses, the new one accepts.
    ASSERT_TRUE(listener.listen("127.0.0.2", 0).ok());
    reach = probe_peers({{"a", "127.0.0.1", port, ""},
                         {"b", "127.0.0.2", listener.port(), ""},
                         {"c", "", 0, "no overlay entry: subnet: x"}},
                        1000);
    EXPECT_FALSE(reach[0].reachable);
    EXPECT_EQ(reach[0].error, "connection refused");
    EXPECT_TRUE(reach[1].reachable) << reach[1].error;
    EXPECT_EQ(reach[2].error, "no overlay entry: subnet: x");
    // An address that is not local yet (IP_FREEBIND).
    EXPECT_TRUE(listener.listen("10.212.7.1", 7709).ok());
    listener.stop();
    reach = probe_peers({{"b", "127.0.0.2", port, ""}}, 1000);
    EXPECT_FALSE(reach[0].reachable);
  });
}

TEST(PeerProbeTest, TimeoutIsReported) {
  Netns ns;
  SKIP_UNLESS_NETNS(ns);
  ns.run([] {
    Kernel k;
    k.underlay("under0", "192.168.50.1", 24, 1500);
    // A neighbour that never answers: the SYN goes nowhere, the connect times out.
    k.foreign_neighbour("under0", "192.168.50.9", "02:00:00:00:00:99");
    auto reach = probe_peers({{"h9", "192.168.50.9", 7709, ""}}, 200);
    EXPECT_FALSE(reach[0].reachable);
    EXPECT_EQ(reach[0].error, "connect timed out after 200 ms");
  });
}

}  // namespace
}  // namespace pier::agent
