// Which messages the registry commits with a disk flush before it goes on.
#include "services/registry/dispatch.h"

#include <gtest/gtest.h>

#include "common/topics.h"

namespace pier::registry {
namespace {

TEST(DispatchTest, CommandsAreCommittedDurablyHeartbeatsAreNot) {
  for (auto t : {topic::kDeploy, topic::kScale, topic::kRemove, topic::kPlace, topic::kSnapshot})
    EXPECT_TRUE(needs_durable_commit(t)) << t;
  EXPECT_TRUE(needs_durable_commit("cmd.unknown"));
  EXPECT_FALSE(needs_durable_commit(topic::heartbeat("h1")));
}

}  // namespace
}  // namespace pier::registry
