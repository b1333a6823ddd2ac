#include "services/metrics/command_retry.h"

#include <gtest/gtest.h>

namespace pier::metrics {
namespace {

struct CommandRetryTest : ::testing::Test {
  ManualClock clock;
  std::vector<std::pair<std::string, std::string>> sent;  // (body, request id)
  CommandRetry retry{[this](std::string_view, const std::string& body, const std::string& id) {
                       sent.push_back({body, id});
                     },
                     clock, 500, 10'000};
};

TEST_F(CommandRetryTest, RepeatsWithTheSameIdUntilAnswered) {
  const std::string id = retry.send("web", "cmd.scale", "b1").request_id;
  ASSERT_EQ(sent.size(), 1u);
  clock.advance(499);
  EXPECT_TRUE(retry.resend_due().empty());
  EXPECT_EQ(sent.size(), 1u);
  clock.advance(1);
  retry.resend_due();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1], sent[0]);

  msg::Reply other;
  other.request_id = "not-ours";
  EXPECT_FALSE(retry.answer(other));
  msg::Reply reply;
  reply.request_id = id;
  auto answered = retry.answer(reply);
  ASSERT_TRUE(answered);
  EXPECT_EQ(answered->key, "web");
  EXPECT_FALSE(retry.pending("web"));
  clock.advance(5000);
  retry.resend_due();
  EXPECT_EQ(sent.size(), 2u);
  EXPECT_FALSE(retry.answer(reply)) << "a repeated reply answers nothing twice";
}

TEST_F(CommandRetryTest, GivesUpAfterTheLimitAndANewSendIsANewId) {
  const std::string first = retry.send("web", "cmd.scale", "b1").request_id;
  std::vector<CommandRetry::Pending> given_up;
  for (int i = 0; i < 20 && given_up.empty(); ++i) {
    clock.advance(500);
    given_up = retry.resend_due();
  }
  ASSERT_EQ(given_up.size(), 1u);
  EXPECT_EQ(given_up[0].key, "web");
  EXPECT_EQ(sent.size(), 20u) << "first send + 19 repeats before the 10 s mark";
  EXPECT_EQ(retry.size(), 0u);
  EXPECT_NE(retry.send("web", "cmd.scale", "b2").request_id, first);
}

}  // namespace
}  // namespace pier::metrics
