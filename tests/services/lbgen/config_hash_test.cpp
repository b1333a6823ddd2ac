#include "services/lbgen/config_hash.h"

#include <gtest/gtest.h>

namespace pier::lbgen {
namespace {

TEST(ConfigHash, IsFnv1a64InHex) {
  EXPECT_EQ(config_hash(""), "cbf29ce484222325");
  EXPECT_EQ(config_hash("a"), "af63dc4c8601ec8c");
  EXPECT_EQ(config_hash("foobar"), "85944171f73967e8");
}

TEST(ConfigHash, TellsConfigsApart) {
  EXPECT_EQ(config_hash("server web-1 127.100.0.2:8000 check\n"), config_hash("server web-1 127.100.0.2:8000 check\n"));
  EXPECT_NE(config_hash("server web-1 127.100.0.2:8000 check\n"), config_hash("server web-1 127.100.0.3:8000 check\n"));
}

}  // namespace
}  // namespace pier::lbgen
