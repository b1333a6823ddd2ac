#include "services/registry/publication.h"

#include <gtest/gtest.h>

#include "common/codec.h"
#include "common/topics.h"

namespace pier::registry {
namespace {

std::vector<std::string> topics(const std::vector<Outgoing>& out) {
  std::vector<std::string> t;
  for (const auto& o : out) t.push_back(o.topic);
  return t;
}

const std::string kDelta(topic::kStateDelta);
const std::string kFull(topic::kStateFull);

class PublicationTest : public ::testing::Test {
 protected:
  msg::StateDelta delta_of(const Outgoing& out) {
    auto d = codec::decode<msg::StateDelta>(out.body);
    EXPECT_TRUE(d.ok());
    return d.ok() ? *d : msg::StateDelta{};
  }

  ManualClock clock_;
  PublishOptions options_ = [] {  // beacon 1 s, full every 30 s, at most one full per 250 ms
    PublishOptions o;
    o.min_full_gap_ms = 250;
    return o;
  }();
  msg::State state_;
};

TEST_F(PublicationTest, StartsWithBothThenSendsChangesAndBeacons) {
  Publication p(clock_, options_, "s1");
  auto out = p.due(state_, false);
  ASSERT_EQ(topics(out), (std::vector<std::string>{kDelta, kFull}));
  auto whole = codec::decode<msg::State>(out[1].body);
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->stream, "s1");
  EXPECT_EQ(whole->delta, 1);

  clock_.advance(100);
  EXPECT_TRUE(p.due(state_, false).empty());
  state_.revision = 1;
  state_.apps.emplace_back().spec.name = "web";
  out = p.due(state_, true);
  ASSERT_EQ(topics(out), std::vector<std::string>{kDelta});  // a change is a delta, not the whole state
  EXPECT_EQ(delta_of(out[0]).number, 2);
  EXPECT_EQ(delta_of(out[0]).apps.size(), 1u);

  clock_.advance(999);
  EXPECT_TRUE(p.due(state_, false).empty());
  clock_.advance(1);
  out = p.due(state_, false);
  ASSERT_EQ(topics(out), std::vector<std::string>{kDelta});
  EXPECT_EQ(delta_of(out[0]).number, 2);  // the beacon: the last number, nothing in it
  EXPECT_TRUE(delta_of(out[0]).apps.empty());

  clock_.advance(options_.full_every_ms);
  EXPECT_EQ(topics(p.due(state_, false)), (std::vector<std::string>{kDelta, kFull}));
}

TEST_F(PublicationTest, RequestsForTheWholeStateAreCoalesced) {
  Publication p(clock_, options_, "s1");
  p.due(state_, false);
  clock_.advance(100);
  p.snapshot_requested();
  p.snapshot_requested();
  EXPECT_TRUE(p.due(state_, false).empty());  // 100 ms after the last full: not yet
  clock_.advance(149);
  p.snapshot_requested();
  EXPECT_TRUE(p.due(state_, false).empty());
  clock_.advance(1);
  EXPECT_EQ(topics(p.due(state_, false)), std::vector<std::string>{kFull});  // one answers all three
  clock_.advance(300);
  EXPECT_TRUE(p.due(state_, false).empty());
  p.snapshot_requested();
  EXPECT_EQ(topics(p.due(state_, false)), std::vector<std::string>{kFull});
}

TEST_F(PublicationTest, FullOnChangeServesOlderReaders) {
  options_.full_on_change = true;
  Publication p(clock_, options_, "s1");
  p.due(state_, false);
  clock_.advance(10);
  state_.revision = 1;
  EXPECT_EQ(topics(p.due(state_, true)), (std::vector<std::string>{kDelta, kFull}));
  clock_.advance(1000);
  EXPECT_EQ(topics(p.due(state_, false)), std::vector<std::string>{kDelta});  // a beacon changes nothing
}

}  // namespace
}  // namespace pier::registry
