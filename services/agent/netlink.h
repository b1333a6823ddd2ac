// The kernel's routing state the overlay writes, behind an interface so that tests decide. The agent
// touches only what it made: its own device (and the addresses, neighbours and FDB entries on it) and
// routes that carry its own protocol number. Every write is idempotent (create or replace).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/net.h"
#include "common/status.h"
#include "services/agent/overlay_plan.h"

struct nl_sock;

namespace pier::agent {

struct VxlanDevice {
  int ifindex = 0;
  std::string mac;  // lower case
  int mtu = 0;
};

class Netlink {
 public:
  virtual ~Netlink() = default;
  // The VXLAN device `device` (learning off, local = local, UDP port `port`, this MTU), created when
  // missing; one of that name with another vni, port or local address (or not VXLAN) is recreated.
  virtual Result<VxlanDevice> ensure_vxlan(const std::string& device, int vni, int port, uint32_t local, int mtu) = 0;
  // Deletes the device when it exists (a VXLAN device left from an earlier mode).
  virtual Status remove_device(const std::string& device) = 0;
  // Makes ip/32 the device's only IPv4 address.
  virtual Status set_address(const std::string& device, uint32_t ip) = 0;
  // Sets the device administratively up (no write when it is).
  virtual Status ensure_up(const std::string& device) = 0;
  // The entries this host owns: routes in table main with this protocol number (any device), and the
  // permanent neighbours and FDB entries (with a destination) on `device` (none when it does not exist).
  virtual Result<OverlayEntries> list_owned(const std::string& device, int protocol) = 0;
  // Creates the entry, or replaces the one with its key (a route whose key another protocol's route
  // holds is refused, not replaced). Onlink routes, neighbours and FDB entries go on `device`.
  virtual Status add_or_replace(const OverlayRoute& route, const std::string& device, int protocol) = 0;
  virtual Status add_or_replace(const OverlayNeighbour& neighbour, const std::string& device) = 0;
  virtual Status add_or_replace(const OverlayFdb& fdb, const std::string& device) = 0;
  // Deletes the entry; one that is already gone is not an error.
  virtual Status remove(const OverlayRoute& route, const std::string& device, int protocol) = 0;
  virtual Status remove(const OverlayNeighbour& neighbour, const std::string& device) = 0;
  virtual Status remove(const OverlayFdb& fdb, const std::string& device) = 0;
  // `local <subnet> dev lo table local proto <protocol>` (AnyIP): every address of the subnet is this
  // host's, so instances can bind any of them.
  virtual Status ensure_local_subnet(const net::Ipv4Net& subnet, int protocol) = 0;
  virtual Status remove_local_subnet(const net::Ipv4Net& subnet, int protocol) = 0;
  // The subnets of such local routes with this protocol number.
  virtual Result<std::vector<net::Ipv4Net>> local_subnets(int protocol) = 0;
  // The MTU of the device that holds the IPv4 address `underlay`.
  virtual Result<int> underlay_mtu(uint32_t underlay) = 0;
};

// Netlink through libnl-route-3, on one NETLINK_ROUTE socket opened in the constructor: it acts in the
// network namespace of the thread that made it. One owner thread.
class LibnlNetlink final : public Netlink {
 public:
  LibnlNetlink();
  ~LibnlNetlink() override;
  LibnlNetlink(const LibnlNetlink&) = delete;
  LibnlNetlink& operator=(const LibnlNetlink&) = delete;

  // Not ok when the socket could not be opened; every call then fails with this status.
  const Status& status() const { return status_; }

  Result<VxlanDevice> ensure_vxlan(const std::string& device, int vni, int port, uint32_t local, int mtu) override;
  Status remove_device(const std::string& device) override;
  Status set_address(const std::string& device, uint32_t ip) override;
  Status ensure_up(const std::string& device) override;
  Result<OverlayEntries> list_owned(const std::string& device, int protocol) override;
  Status add_or_replace(const OverlayRoute& route, const std::string& device, int protocol) override;
  Status add_or_replace(const OverlayNeighbour& neighbour, const std::string& device) override;
  Status add_or_replace(const OverlayFdb& fdb, const std::string& device) override;
  Status remove(const OverlayRoute& route, const std::string& device, int protocol) override;
  Status remove(const OverlayNeighbour& neighbour, const std::string& device) override;
  Status remove(const OverlayFdb& fdb, const std::string& device) override;
  Status ensure_local_subnet(const net::Ipv4Net& subnet, int protocol) override;
  Status remove_local_subnet(const net::Ipv4Net& subnet, int protocol) override;
  Result<std::vector<net::Ipv4Net>> local_subnets(int protocol) override;
  Result<int> underlay_mtu(uint32_t underlay) override;

 private:
  Result<int> ifindex(const std::string& device);  // 0 when there is no such device

  nl_sock* sock_ = nullptr;
  Status status_;
};

}  // namespace pier::agent
