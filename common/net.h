// IPv4 address and subnet arithmetic for the platform network.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace pier::net {

struct Ipv4Net {
  uint32_t base = 0;  // host byte order, host bits zero
  int prefix = 0;
  uint64_t size() const { return uint64_t{1} << (32 - prefix); }
  bool contains(uint32_t address) const { return address - base < size(); }
  // Two CIDRs overlap exactly when one holds the other's first address.
  bool overlaps(const Ipv4Net& other) const { return contains(other.base) || other.contains(base); }
};

Result<uint32_t> parse_ipv4(std::string_view text);
std::string format_ipv4(uint32_t address);
// "10.0.0.0/16" -> {base, 16}; host bits must be zero.
Result<Ipv4Net> parse_cidr(std::string_view text);
std::string format_cidr(const Ipv4Net& net);
// The index-th subnet of size /new_prefix inside net, or an error when it does not fit.
Result<Ipv4Net> nth_subnet(const Ipv4Net& net, int new_prefix, uint64_t index);
// The n-th usable host address (n >= 1) inside net, or an error when n is past the last one.
Result<uint32_t> nth_host(const Ipv4Net& net, uint64_t n);

}  // namespace pier::net
