#include "services/agent/netlink.h"

#include <arpa/inet.h>
#include <linux/if_bridge.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstring>
#include <functional>

namespace pier::agent {
namespace {

struct LinkPut {
  void operator()(rtnl_link* p) const { rtnl_link_put(p); }
};
struct AddrPut {
  void operator()(nl_addr* p) const { nl_addr_put(p); }
};
struct CacheFree {
  void operator()(nl_cache* p) const { nl_cache_free(p); }
};
struct RoutePut {
  void operator()(rtnl_route* p) const { rtnl_route_put(p); }
};
struct NeighPut {
  void operator()(rtnl_neigh* p) const { rtnl_neigh_put(p); }
};
struct IfAddrPut {
  void operator()(rtnl_addr* p) const { rtnl_addr_put(p); }
};
using LinkPtr = std::unique_ptr<rtnl_link, LinkPut>;
using AddrPtr = std::unique_ptr<nl_addr, AddrPut>;
using CachePtr = std::unique_ptr<nl_cache, CacheFree>;
using RoutePtr = std::unique_ptr<rtnl_route, RoutePut>;
using NeighPtr = std::unique_ptr<rtnl_neigh, NeighPut>;
using IfAddrPtr = std::unique_ptr<rtnl_addr, IfAddrPut>;

Status failed(const std::string& what, int err) { return Status::Error(what + ": " + nl_geterror(err)); }

bool absent(int err) { return err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV; }

AddrPtr ipv4(uint32_t address, int prefix = 32) {
  const uint32_t be = htonl(address);
  AddrPtr out(nl_addr_build(AF_INET, &be, sizeof be));
  nl_addr_set_prefixlen(out.get(), prefix);
  return out;
}

// The IPv4 address in a (not null) nl_addr, host byte order; 0 when it is not one.
uint32_t ipv4_of(nl_addr* addr) {
  if (addr == nullptr || nl_addr_get_family(addr) != AF_INET || nl_addr_get_len(addr) != 4) return 0;
  uint32_t be = 0;
  std::memcpy(&be, nl_addr_get_binary_addr(addr), sizeof be);
  return ntohl(be);
}

Result<AddrPtr> mac(const std::string& text) {
  unsigned b[6];
  char end = 0;
  if (std::sscanf(text.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &end) != 6)
    return Status::Error("'" + text + "' is not a MAC address");
  unsigned char bytes[6];
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<unsigned char>(b[i]);
  return AddrPtr(nl_addr_build(AF_LLC, bytes, sizeof bytes));
}

std::string mac_of(nl_addr* addr) {
  if (addr == nullptr || nl_addr_get_len(addr) != 6) return "";
  const auto* b = static_cast<const unsigned char*>(nl_addr_get_binary_addr(addr));
  char out[18];
  std::snprintf(out, sizeof out, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
  return out;
}

template <typename T>
void for_each(nl_cache* cache, const std::function<void(T*)>& fn) {
  for (nl_object* o = nl_cache_get_first(cache); o != nullptr; o = nl_cache_get_next(o)) fn(reinterpret_cast<T*>(o));
}

// The route template of an entry: table, dst, protocol, type and one nexthop, as the kernel keys and
// matches it (scope set explicitly: libnl would guess one from the nexthops otherwise).
RoutePtr route_template(uint32_t table, uint8_t type, uint8_t scope, const net::Ipv4Net& dst, int protocol,
                        uint32_t gateway, int oif, bool onlink) {
  RoutePtr r(rtnl_route_alloc());
  rtnl_route_set_family(r.get(), AF_INET);
  rtnl_route_set_table(r.get(), table);
  rtnl_route_set_type(r.get(), type);
  rtnl_route_set_scope(r.get(), scope);
  rtnl_route_set_protocol(r.get(), static_cast<uint8_t>(protocol));
  auto d = ipv4(dst.base, dst.prefix);
  rtnl_route_set_dst(r.get(), d.get());
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  if (gateway != 0) {
    auto gw = ipv4(gateway);
    rtnl_route_nh_set_gateway(nh, gw.get());
  }
  if (oif > 0) rtnl_route_nh_set_ifindex(nh, oif);
  if (onlink) rtnl_route_nh_set_flags(nh, RTNH_F_ONLINK);
  rtnl_route_add_nexthop(r.get(), nh);  // the route owns nh now
  return r;
}

}  // namespace

LibnlNetlink::LibnlNetlink() {
  sock_ = nl_socket_alloc();
  if (sock_ == nullptr) {
    status_ = Status::Error("netlink: cannot allocate a socket");
    return;
  }
  if (int err = nl_connect(sock_, NETLINK_ROUTE); err < 0) status_ = failed("netlink: connect", err);
}

LibnlNetlink::~LibnlNetlink() {
  if (sock_ != nullptr) nl_socket_free(sock_);
}

Result<int> LibnlNetlink::ifindex(const std::string& device) {
  if (!status_.ok()) return status_;
  rtnl_link* raw = nullptr;
  const int err = rtnl_link_get_kernel(sock_, 0, device.c_str(), &raw);
  if (absent(err)) return 0;
  if (err < 0) return failed("netlink: get link " + device, err);
  LinkPtr link(raw);
  return rtnl_link_get_ifindex(link.get());
}

Result<VxlanDevice> LibnlNetlink::ensure_vxlan(const std::string& device, int vni, int port, uint32_t local, int mtu) {
  if (!status_.ok()) return status_;
  auto get = [&](LinkPtr* out) -> Status {
    rtnl_link* raw = nullptr;
    const int err = rtnl_link_get_kernel(sock_, 0, device.c_str(), &raw);
    if (absent(err)) return Status::Ok();
    if (err < 0) return failed("netlink: get link " + device, err);
    out->reset(raw);
    return Status::Ok();
  };
  LinkPtr link;
  if (auto s = get(&link); !s.ok()) return s;
  if (link) {
    std::string mismatch;
    uint32_t id = 0, dstport = 0;
    nl_addr* addr = nullptr;
    if (!rtnl_link_is_vxlan(link.get())) {
      const char* type = rtnl_link_get_type(link.get());
      mismatch = std::string("type ") + (type ? type : "(none)") + ", not vxlan";
    } else if (rtnl_link_vxlan_get_id(link.get(), &id) < 0 || static_cast<int>(id) != vni) {
      mismatch = "vni " + std::to_string(id) + ", not " + std::to_string(vni);
    } else if (rtnl_link_vxlan_get_port(link.get(), &dstport) < 0 || static_cast<int>(dstport) != port) {
      mismatch = "port " + std::to_string(dstport) + ", not " + std::to_string(port);
    } else if (rtnl_link_vxlan_get_local(link.get(), &addr) < 0 || ipv4_of(addr) != local) {
      mismatch = "local " + (addr ? net::format_ipv4(ipv4_of(addr)) : std::string("(none)")) + ", not " +
                 net::format_ipv4(local);
    } else if (rtnl_link_vxlan_get_learning(link.get()) > 0) {
      mismatch = "learning on";
    }
    if (addr != nullptr) nl_addr_put(addr);
    if (!mismatch.empty()) {
      spdlog::warn("overlay: device {} exists with {}: recreating it", device, mismatch);
      if (int err = rtnl_link_delete(sock_, link.get()); err < 0 && !absent(err))
        return failed("netlink: delete link " + device, err);
      link.reset();
    }
  }
  if (!link) {
    LinkPtr want(rtnl_link_vxlan_alloc());
    rtnl_link_set_name(want.get(), device.c_str());
    rtnl_link_vxlan_set_id(want.get(), static_cast<uint32_t>(vni));
    rtnl_link_vxlan_set_port(want.get(), static_cast<uint32_t>(port));
    auto l = ipv4(local);
    rtnl_link_vxlan_set_local(want.get(), l.get());
    rtnl_link_vxlan_disable_learning(want.get());
    rtnl_link_set_mtu(want.get(), static_cast<unsigned>(mtu));
    if (int err = rtnl_link_add(sock_, want.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0)
      return failed("netlink: create vxlan device " + device, err);
    spdlog::info("overlay: created vxlan device {} (vni {}, port {}, local {}, mtu {})", device, vni, port,
                 net::format_ipv4(local), mtu);
    if (auto s = get(&link); !s.ok()) return s;
    if (!link) return Status::Error("netlink: vxlan device " + device + " vanished after its creation");
  }
  if (static_cast<int>(rtnl_link_get_mtu(link.get())) != mtu) {
    LinkPtr change(rtnl_link_alloc());
    rtnl_link_set_mtu(change.get(), static_cast<unsigned>(mtu));
    if (int err = rtnl_link_change(sock_, link.get(), change.get(), 0); err < 0)
      return failed("netlink: set mtu of " + device, err);
  }
  return VxlanDevice{rtnl_link_get_ifindex(link.get()), mac_of(rtnl_link_get_addr(link.get())), mtu};
}

Status LibnlNetlink::remove_device(const std::string& device) {
  auto index = ifindex(device);
  if (!index.ok()) return index.status();
  if (*index == 0) return Status::Ok();
  LinkPtr link(rtnl_link_alloc());
  rtnl_link_set_ifindex(link.get(), *index);
  if (int err = rtnl_link_delete(sock_, link.get()); err < 0 && !absent(err))
    return failed("netlink: delete link " + device, err);
  spdlog::info("overlay: deleted device {}", device);
  return Status::Ok();
}

Status LibnlNetlink::set_address(const std::string& device, uint32_t ip) {
  auto index = ifindex(device);
  if (!index.ok()) return index.status();
  if (*index == 0) return Status::Error("netlink: no device " + device);
  nl_cache* raw = nullptr;
  if (int err = rtnl_addr_alloc_cache(sock_, &raw); err < 0) return failed("netlink: list addresses", err);
  CachePtr cache(raw);
  bool present = false;
  Status status;
  for_each<rtnl_addr>(cache.get(), [&](rtnl_addr* a) {
    if (rtnl_addr_get_ifindex(a) != *index || rtnl_addr_get_family(a) != AF_INET || !status.ok()) return;
    if (ipv4_of(rtnl_addr_get_local(a)) == ip && rtnl_addr_get_prefixlen(a) == 32) {
      present = true;
      return;
    }
    if (int err = rtnl_addr_delete(sock_, a, 0); err < 0 && !absent(err))
      status = failed("netlink: delete an address of " + device, err);
  });
  if (!status.ok() || present) return status;
  IfAddrPtr a(rtnl_addr_alloc());
  rtnl_addr_set_ifindex(a.get(), *index);
  rtnl_addr_set_family(a.get(), AF_INET);
  auto local = ipv4(ip);
  rtnl_addr_set_local(a.get(), local.get());
  rtnl_addr_set_prefixlen(a.get(), 32);
  if (int err = rtnl_addr_add(sock_, a.get(), NLM_F_REPLACE); err < 0)
    return failed("netlink: add address " + net::format_ipv4(ip) + "/32 to " + device, err);
  return Status::Ok();
}

Status LibnlNetlink::ensure_up(const std::string& device) {
  if (!status_.ok()) return status_;
  rtnl_link* raw = nullptr;
  if (int err = rtnl_link_get_kernel(sock_, 0, device.c_str(), &raw); err < 0)
    return failed("netlink: get link " + device, err);
  LinkPtr link(raw);
  if (rtnl_link_get_flags(link.get()) & IFF_UP) return Status::Ok();
  LinkPtr change(rtnl_link_alloc());
  rtnl_link_set_flags(change.get(), IFF_UP);
  if (int err = rtnl_link_change(sock_, link.get(), change.get(), 0); err < 0)
    return failed("netlink: set " + device + " up", err);
  return Status::Ok();
}

Result<OverlayEntries> LibnlNetlink::list_owned(const std::string& device, int protocol) {
  auto index = ifindex(device);
  if (!index.ok()) return index.status();
  OverlayEntries out;
  nl_cache* raw = nullptr;
  if (int err = rtnl_route_alloc_cache(sock_, AF_INET, 0, &raw); err < 0) return failed("netlink: list routes", err);
  CachePtr routes(raw);
  for_each<rtnl_route>(routes.get(), [&](rtnl_route* r) {
    if (rtnl_route_get_table(r) != RT_TABLE_MAIN || rtnl_route_get_protocol(r) != protocol ||
        rtnl_route_get_type(r) != RTN_UNICAST || rtnl_route_get_family(r) != AF_INET)
      return;
    nl_addr* dst = rtnl_route_get_dst(r);
    OverlayRoute route;
    route.dst = {ipv4_of(dst), static_cast<int>(nl_addr_get_prefixlen(dst))};
    if (rtnl_route_get_nnexthops(r) > 0) {
      rtnl_nexthop* nh = rtnl_route_nexthop_n(r, 0);
      route.gateway = ipv4_of(rtnl_route_nh_get_gateway(nh));
      route.onlink = (rtnl_route_nh_get_flags(nh) & RTNH_F_ONLINK) != 0;
    }
    out.routes.push_back(route);
  });
  if (*index == 0) {
    sort_entries(&out);
    return out;
  }
  // Neighbours (ARP) come from an AF_UNSPEC dump, FDB entries from an AF_BRIDGE one.
  for (const int family : {AF_UNSPEC, AF_BRIDGE}) {
    nl_cache* cache_raw = nullptr;
    if (int err = nl_cache_alloc_name("route/neigh", &cache_raw); err < 0)
      return failed("netlink: neighbour cache", err);
    CachePtr cache(cache_raw);
    nl_cache_set_arg1(cache.get(), family);
    if (int err = nl_cache_refill(sock_, cache.get()); err < 0) return failed("netlink: list neighbours", err);
    for_each<rtnl_neigh>(cache.get(), [&](rtnl_neigh* n) {
      if (rtnl_neigh_get_ifindex(n) != *index || !(rtnl_neigh_get_state(n) & NUD_PERMANENT)) return;
      const std::string lladdr = mac_of(rtnl_neigh_get_lladdr(n));
      const uint32_t dst = ipv4_of(rtnl_neigh_get_dst(n));
      if (lladdr.empty() || dst == 0) return;
      if (rtnl_neigh_get_family(n) == AF_INET) out.neighbours.push_back({dst, lladdr});
      if (rtnl_neigh_get_family(n) == AF_BRIDGE) out.fdb.push_back({lladdr, dst});
    });
  }
  sort_entries(&out);
  return out;
}

Status LibnlNetlink::add_or_replace(const OverlayRoute& route, const std::string& device, int protocol) {
  int oif = 0;
  if (route.onlink) {
    auto index = ifindex(device);
    if (!index.ok()) return index.status();
    if (*index == 0) return Status::Error("netlink: no device " + device + " for route " + to_string(route));
    oif = *index;
  }
  if (!status_.ok()) return status_;
  auto r = route_template(RT_TABLE_MAIN, RTN_UNICAST, RT_SCOPE_UNIVERSE, route.dst, protocol, route.gateway, oif,
                          route.onlink);
  int err = rtnl_route_add(sock_, r.get(), NLM_F_EXCL);
  if (err == -NLE_EXIST) {
    // Replace only a route of ours: one another protocol made (an operator's, a DHCP client's) stays.
    nl_cache* raw = nullptr;
    if (int e = rtnl_route_alloc_cache(sock_, AF_INET, 0, &raw); e < 0) return failed("netlink: list routes", e);
    CachePtr routes(raw);
    int owner = -1;
    for_each<rtnl_route>(routes.get(), [&](rtnl_route* have) {
      nl_addr* dst = rtnl_route_get_dst(have);
      if (rtnl_route_get_table(have) == RT_TABLE_MAIN && rtnl_route_get_priority(have) == 0 &&
          rtnl_route_get_tos(have) == 0 && ipv4_of(dst) == route.dst.base &&
          static_cast<int>(nl_addr_get_prefixlen(dst)) == route.dst.prefix)
        owner = rtnl_route_get_protocol(have);
    });
    if (owner != protocol)
      return Status::Error("netlink: a route to " + net::format_cidr(route.dst) + " with protocol " +
                           std::to_string(owner) + " exists: not the agent's, left alone");
    err = rtnl_route_add(sock_, r.get(), NLM_F_REPLACE);
  }
  if (err < 0) return failed("netlink: add route " + to_string(route), err);
  return Status::Ok();
}

Status LibnlNetlink::add_or_replace(const OverlayNeighbour& neighbour, const std::string& device) {
  auto index = ifindex(device);
  if (!index.ok()) return index.status();
  if (*index == 0) return Status::Error("netlink: no device " + device);
  auto lladdr = mac(neighbour.mac);
  if (!lladdr.ok()) return lladdr.status();
  NeighPtr n(rtnl_neigh_alloc());
  rtnl_neigh_set_ifindex(n.get(), *index);
  auto dst = ipv4(neighbour.ip);
  rtnl_neigh_set_dst(n.get(), dst.get());
  rtnl_neigh_set_lladdr(n.get(), lladdr->get());
  rtnl_neigh_set_state(n.get(), NUD_PERMANENT);
  if (int err = rtnl_neigh_add(sock_, n.get(), NLM_F_CREATE | NLM_F_REPLACE); err < 0)
    return failed("netlink: add neighbour " + to_string(neighbour) + " on " + device, err);
  return Status::Ok();
}

Status LibnlNetlink::add_or_replace(const OverlayFdb& fdb, const std::string& device) {
  auto index = ifindex(device);
  if (!index.ok()) return index.status();
  if (*index == 0) return Status::Error("netlink: no device " + device);
  auto lladdr = mac(fdb.mac);
  if (!lladdr.ok()) return lladdr.status();
  NeighPtr n(rtnl_neigh_alloc());
  rtnl_neigh_set_ifindex(n.get(), *index);
  auto dst = ipv4(fdb.dst);
  rtnl_neigh_set_dst(n.get(), dst.get());  // before the family: libnl sets the family from the address
  rtnl_neigh_set_family(n.get(), AF_BRIDGE);
  rtnl_neigh_set_lladdr(n.get(), lladdr->get());
  rtnl_neigh_set_state(n.get(), NUD_PERMANENT);
  rtnl_neigh_set_flags(n.get(), NTF_SELF);
  if (int err = rtnl_neigh_add(sock_, n.get(), NLM_F_CREATE | NLM_F_REPLACE); err < 0)
    return failed("netlink: add fdb entry " + to_string(fdb) + " on " + device, err);
  return Status::Ok();
}

Status LibnlNetlink::remove(const OverlayRoute& route, const std::string& device, int protocol) {
  int oif = 0;
  if (route.onlink) {
    auto index = ifindex(device);
    if (!index.ok()) return index.status();
    oif = *index;
  }
  if (!status_.ok()) return status_;
  auto r = route_template(RT_TABLE_MAIN, RTN_UNICAST, RT_SCOPE_UNIVERSE, route.dst, protocol, route.gateway, oif,
                          route.onlink);
  if (int err = rtnl_route_delete(sock_, r.get(), 0); err < 0 && !absent(err))
    return failed("netlink: delete route " + to_string(route), err);
  return Status::Ok();
}

Status LibnlNetlink::remove(const OverlayNeighbour& neighbour, const std::string& device) {
  auto index = ifindex(device);
  if (!index.ok()) return index.status();
  if (*index == 0) return Status::Ok();
  NeighPtr n(rtnl_neigh_alloc());
  rtnl_neigh_set_ifindex(n.get(), *index);
  auto dst = ipv4(neighbour.ip);
  rtnl_neigh_set_dst(n.get(), dst.get());
  if (int err = rtnl_neigh_delete(sock_, n.get(), 0); err < 0 && !absent(err))
    return failed("netlink: delete neighbour " + to_string(neighbour) + " on " + device, err);
  return Status::Ok();
}

Status LibnlNetlink::remove(const OverlayFdb& fdb, const std::string& device) {
  auto index = ifindex(device);
  if (!index.ok()) return index.status();
  if (*index == 0) return Status::Ok();
  auto lladdr = mac(fdb.mac);
  if (!lladdr.ok()) return lladdr.status();
  NeighPtr n(rtnl_neigh_alloc());
  rtnl_neigh_set_ifindex(n.get(), *index);
  auto dst = ipv4(fdb.dst);
  rtnl_neigh_set_dst(n.get(), dst.get());
  rtnl_neigh_set_family(n.get(), AF_BRIDGE);
  rtnl_neigh_set_lladdr(n.get(), lladdr->get());
  rtnl_neigh_set_flags(n.get(), NTF_SELF);
  if (int err = rtnl_neigh_delete(sock_, n.get(), 0); err < 0 && !absent(err))
    return failed("netlink: delete fdb entry " + to_string(fdb) + " on " + device, err);
  return Status::Ok();
}

Status LibnlNetlink::ensure_local_subnet(const net::Ipv4Net& subnet, int protocol) {
  auto lo = ifindex("lo");
  if (!lo.ok()) return lo.status();
  auto r = route_template(RT_TABLE_LOCAL, RTN_LOCAL, RT_SCOPE_HOST, subnet, protocol, 0, *lo, false);
  const int err = rtnl_route_add(sock_, r.get(), NLM_F_EXCL);
  if (err == -NLE_EXIST) {
    auto ours = local_subnets(protocol);
    if (!ours.ok()) return ours.status();
    for (const auto& s : *ours)
      if (s.base == subnet.base && s.prefix == subnet.prefix) return Status::Ok();
    return Status::Error("netlink: a local route to " + net::format_cidr(subnet) +
                         " exists that is not the agent's: left alone");
  }
  if (err < 0) return failed("netlink: add local route " + net::format_cidr(subnet), err);
  return Status::Ok();
}

Status LibnlNetlink::remove_local_subnet(const net::Ipv4Net& subnet, int protocol) {
  auto lo = ifindex("lo");
  if (!lo.ok()) return lo.status();
  auto r = route_template(RT_TABLE_LOCAL, RTN_LOCAL, RT_SCOPE_HOST, subnet, protocol, 0, *lo, false);
  if (int err = rtnl_route_delete(sock_, r.get(), 0); err < 0 && !absent(err))
    return failed("netlink: delete local route " + net::format_cidr(subnet), err);
  return Status::Ok();
}

Result<std::vector<net::Ipv4Net>> LibnlNetlink::local_subnets(int protocol) {
  if (!status_.ok()) return status_;
  nl_cache* raw = nullptr;
  if (int err = rtnl_route_alloc_cache(sock_, AF_INET, 0, &raw); err < 0) return failed("netlink: list routes", err);
  CachePtr routes(raw);
  std::vector<net::Ipv4Net> out;
  for_each<rtnl_route>(routes.get(), [&](rtnl_route* r) {
    if (rtnl_route_get_table(r) != RT_TABLE_LOCAL || rtnl_route_get_type(r) != RTN_LOCAL ||
        rtnl_route_get_protocol(r) != protocol)
      return;
    nl_addr* dst = rtnl_route_get_dst(r);
    out.push_back({ipv4_of(dst), static_cast<int>(nl_addr_get_prefixlen(dst))});
  });
  return out;
}

Result<int> LibnlNetlink::underlay_mtu(uint32_t underlay) {
  if (!status_.ok()) return status_;
  nl_cache* raw = nullptr;
  if (int err = rtnl_addr_alloc_cache(sock_, &raw); err < 0) return failed("netlink: list addresses", err);
  CachePtr cache(raw);
  int index = 0;
  for_each<rtnl_addr>(cache.get(), [&](rtnl_addr* a) {
    if (rtnl_addr_get_family(a) == AF_INET && ipv4_of(rtnl_addr_get_local(a)) == underlay)
      index = rtnl_addr_get_ifindex(a);
  });
  if (index == 0) return Status::Error("no device holds the underlay address " + net::format_ipv4(underlay));
  rtnl_link* link_raw = nullptr;
  if (int err = rtnl_link_get_kernel(sock_, index, nullptr, &link_raw); err < 0)
    return failed("netlink: get link " + std::to_string(index), err);
  LinkPtr link(link_raw);
  return static_cast<int>(rtnl_link_get_mtu(link.get()));
}

}  // namespace pier::agent
