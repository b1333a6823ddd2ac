#include "common/net.h"

#include <arpa/inet.h>

namespace pier::net {

Result<uint32_t> parse_ipv4(std::string_view text) {
  std::string s(text);
  in_addr addr{};
  if (::inet_pton(AF_INET, s.c_str(), &addr) != 1) return Status::Error("'" + s + "' is not an IPv4 address");
  return ntohl(addr.s_addr);
}

std::string format_ipv4(uint32_t address) {
  in_addr addr{};
  addr.s_addr = htonl(address);
  char buf[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &addr, buf, sizeof buf);
  return buf;
}

Result<Ipv4Net> parse_cidr(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos)
    return Status::Error("'" + std::string(text) + "' is not in CIDR form a.b.c.d/n");
  auto addr = parse_ipv4(text.substr(0, slash));
  if (!addr.ok()) return addr.status();
  int prefix = -1;
  try {
    std::size_t used = 0;
    prefix = std::stoi(std::string(text.substr(slash + 1)), &used);
    if (used != text.size() - slash - 1) prefix = -1;
  } catch (const std::exception&) {
  }
  if (prefix < 0 || prefix > 32) return Status::Error("'" + std::string(text) + "' has a prefix outside 0-32");
  const uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
  if ((*addr & ~mask) != 0) return Status::Error("'" + std::string(text) + "' has host bits set");
  return Ipv4Net{*addr, prefix};
}

std::string format_cidr(const Ipv4Net& net) { return format_ipv4(net.base) + "/" + std::to_string(net.prefix); }

Result<Ipv4Net> nth_subnet(const Ipv4Net& net, int new_prefix, uint64_t index) {
  if (new_prefix < net.prefix || new_prefix > 32)
    return Status::Error("subnet prefix must lie between the network's and 32");
  const uint64_t count = uint64_t{1} << (new_prefix - net.prefix);
  if (index >= count) return Status::Error("the platform network " + format_cidr(net) + " has no subnet left");
  return Ipv4Net{static_cast<uint32_t>(net.base + index * (uint64_t{1} << (32 - new_prefix))), new_prefix};
}

Result<uint32_t> nth_host(const Ipv4Net& net, uint64_t n) {
  // The network address and the broadcast address are not used.
  if (n == 0 || n + 1 >= net.size()) return Status::Error("subnet " + format_cidr(net) + " has no address left");
  return static_cast<uint32_t>(net.base + n);
}

}  // namespace pier::net
