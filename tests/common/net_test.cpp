#include "common/net.h"

#include <gtest/gtest.h>

namespace pier {
namespace {

TEST(Net, ParsesAndFormatsCidr) {
  auto net = net::parse_cidr("127.100.0.0/16");
  ASSERT_TRUE(net.ok());
  EXPECT_EQ(net->prefix, 16);
  EXPECT_EQ(net::format_cidr(*net), "127.100.0.0/16");
  EXPECT_FALSE(net::parse_cidr("127.100.0.1/16").ok());
  EXPECT_FALSE(net::parse_cidr("127.100.0.0").ok());
  EXPECT_FALSE(net::parse_cidr("127.100.0.0/33").ok());
  EXPECT_FALSE(net::parse_cidr("300.1.1.0/24").ok());
}

TEST(Net, SubnetsAndHosts) {
  auto net = *net::parse_cidr("127.100.0.0/16");
  EXPECT_EQ(net::format_cidr(*net::nth_subnet(net, 24, 0)), "127.100.0.0/24");
  EXPECT_EQ(net::format_cidr(*net::nth_subnet(net, 24, 255)), "127.100.255.0/24");
  EXPECT_FALSE(net::nth_subnet(net, 24, 256).ok());
  auto sub = *net::nth_subnet(net, 24, 3);
  EXPECT_EQ(net::format_ipv4(*net::nth_host(sub, 1)), "127.100.3.1");
  EXPECT_EQ(net::format_ipv4(*net::nth_host(sub, 254)), "127.100.3.254");
  EXPECT_FALSE(net::nth_host(sub, 255).ok());
  EXPECT_FALSE(net::nth_host(sub, 0).ok());
}

TEST(Net, ContainsOnlyAddressesInside) {
  auto sub = *net::parse_cidr("10.213.1.0/24");
  EXPECT_TRUE(sub.contains(*net::parse_ipv4("10.213.1.0")));
  EXPECT_TRUE(sub.contains(*net::parse_ipv4("10.213.1.255")));
  EXPECT_FALSE(sub.contains(*net::parse_ipv4("10.213.2.0")));
  EXPECT_FALSE(sub.contains(*net::parse_ipv4("10.213.0.255")));
}

}  // namespace
}  // namespace pier
