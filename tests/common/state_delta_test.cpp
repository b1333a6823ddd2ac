#include "common/state_delta.h"

#include <gtest/gtest.h>

#include <random>

#include "common/codec.h"
#include "common/topics.h"

namespace pier::state {
namespace {

using Took = Mirror::Took;

msg::HostRecord host(const std::string& id, int64_t seen = 0) {
  msg::HostRecord h;
  h.id = id;
  h.address = "127.0.0.1";
  h.cpus = 2;
  h.last_seen_ms = seen;
  return h;
}

msg::AppRecord app(const std::string& name, int replicas = 1) {
  msg::AppRecord a;
  a.spec.name = name;
  a.spec.image = "demo";
  a.spec.replicas = replicas;
  return a;
}

msg::InstanceRecord instance(const std::string& id, const std::string& on = "", const std::string& state = "pending") {
  msg::InstanceRecord i;
  i.id = id;
  i.app = id.substr(0, id.find('-'));
  i.host = on;
  i.state = state;
  return i;
}

// The state as a mirror holds it: hosts without last_seen_ms, which deltas do not carry alone.
std::string comparable_encoding(msg::State s) {
  for (auto& h : s.hosts) h = comparable(h);
  return codec::encode(s);
}

class StateDeltaTest : public ::testing::Test {
 protected:
  // `state` through the differ into the mirror; returns what the mirror made of it.
  Took publish() {
    last_ = differ_.next(state_);
    return mirror_.take(last_);
  }
  void full() {
    msg::State whole = state_;
    differ_.stamp(whole);
    ASSERT_EQ(mirror_.take(std::move(whole)), Took::kWhole);
  }
  void expect_mirrored() {
    msg::State source = state_;
    differ_.stamp(source);
    EXPECT_EQ(comparable_encoding(mirror_.state()), comparable_encoding(source));
  }

  Differ differ_{"run-1"};
  Mirror mirror_;
  msg::State state_;
  msg::StateDelta last_;
};

TEST_F(StateDeltaTest, FirstDeltaListsEverythingAndABeaconChangesNothing) {
  state_.revision = 3;
  state_.hosts = {host("h1"), host("h2")};
  state_.apps = {app("web")};
  state_.instances = {instance("web-1", "h1")};
  EXPECT_EQ(publish(), Took::kGap);  // a mirror holding nothing needs the whole state first
  EXPECT_EQ(last_.number, 1);
  EXPECT_EQ(last_.stream, "run-1");
  EXPECT_EQ(last_.hosts.size(), 2u);
  EXPECT_EQ(last_.apps.size(), 1u);
  EXPECT_EQ(last_.instances.size(), 1u);
  full();
  // Nothing changed, or only what heartbeats refresh: a beacon with the last number.
  state_.hosts[0].last_seen_ms = 12345;
  EXPECT_EQ(publish(), Took::kCurrent);
  EXPECT_EQ(last_.number, 1);
  EXPECT_TRUE(last_.hosts.empty() && last_.apps.empty() && last_.instances.empty() && !last_.has_refused_hosts);
}

TEST_F(StateDeltaTest, ADeltaCarriesOnlyWhatChangedAndWhatWent) {
  state_.hosts = {host("h1"), host("h3")};
  state_.apps = {app("api"), app("web")};
  state_.instances = {instance("api-1", "h1"), instance("web-2", "h3"), instance("web-3")};
  publish();
  full();
  state_.revision = 1;
  state_.instances[2].host = "h1";  // placed
  state_.instances[2].state = "placed";
  state_.instances.erase(state_.instances.begin());  // api-1 gone
  state_.apps[1].spec.replicas = 2;
  state_.hosts.insert(state_.hosts.begin() + 1, host("h2"));  // a new host between the two
  state_.refused_hosts.push_back({"h9", "", "no subnet left", 1, 2});
  ASSERT_EQ(publish(), Took::kApplied);
  EXPECT_EQ(last_.number, 2);
  ASSERT_EQ(last_.instances.size(), 1u);
  EXPECT_EQ(last_.instances[0].id, "web-3");
  EXPECT_EQ(last_.removed_instances, std::vector<std::string>{"api-1"});
  ASSERT_EQ(last_.apps.size(), 1u);
  EXPECT_EQ(last_.apps[0].spec.name, "web");
  ASSERT_EQ(last_.hosts.size(), 1u);
  EXPECT_EQ(last_.hosts[0].id, "h2");
  EXPECT_TRUE(last_.has_refused_hosts);
  expect_mirrored();
  EXPECT_EQ(mirror_.state().hosts[1].id, "h2");  // in id order, as the registry keeps them
}

TEST_F(StateDeltaTest, AMirrorFollowsManyChangesExactly) {
  std::mt19937 random(7);  // fixed seed: the same changes every run
  publish();
  full();
  int serial = 0;
  for (int step = 0; step < 300; ++step) {
    state_.revision += 1;
    switch (random() % 7) {
      case 0:
        state_.instances.push_back(instance("web-" + std::to_string(++serial)));
        break;
      case 1:
        if (!state_.instances.empty())
          state_.instances.erase(state_.instances.begin() + random() % state_.instances.size());
        break;
      case 2:
        if (!state_.instances.empty()) state_.instances[random() % state_.instances.size()].state = "running";
        break;
      case 3: {
        const std::string id = "h" + std::to_string(random() % 40);
        auto at = std::lower_bound(state_.hosts.begin(), state_.hosts.end(), id,
                                   [](const msg::HostRecord& h, const std::string& i) { return h.id < i; });
        if (at == state_.hosts.end() || at->id != id)
          state_.hosts.insert(at, host(id));
        else
          state_.hosts.erase(at);
        break;
      }
      case 4:
        state_.apps.push_back(app("app" + std::to_string(step)));
        break;
      case 5:
        if (!state_.apps.empty()) state_.apps.erase(state_.apps.begin() + random() % state_.apps.size());
        break;
      default:
        for (auto& h : state_.hosts) h.last_seen_ms += 1000;  // heartbeats alone
        state_.revision -= 1;
        break;
    }
    const Took took = publish();
    ASSERT_TRUE(took == Took::kApplied || took == Took::kCurrent) << "step " << step;
    expect_mirrored();
  }
}

TEST_F(StateDeltaTest, OneDeltaAddingAtBothEndsAndBetweenIsMirrored) {
  state_.hosts = {host("h2"), host("h4")};
  state_.instances = {instance("web-1", "h2")};
  publish();
  full();
  state_.hosts = {host("h1"), host("h2"), host("h3"), host("h4"), host("h5")};
  state_.hosts[1].cpus = 8;  // changed as well
  state_.instances = {instance("web-1", "h2", "running"), instance("web-2", "h3"), instance("web-3", "h5")};
  ASSERT_EQ(publish(), Took::kApplied);
  EXPECT_EQ(last_.hosts.size(), 4u);
  EXPECT_EQ(last_.instances.size(), 3u);
  expect_mirrored();
}

TEST_F(StateDeltaTest, AMissedDeltaIsAGapUntilTheWholeStateComes) {
  state_.apps = {app("web")};
  publish();
  full();
  state_.apps[0].spec.replicas = 2;
  differ_.next(state_);  // lost on the way
  state_.apps[0].spec.replicas = 3;
  EXPECT_EQ(publish(), Took::kGap);
  EXPECT_EQ(mirror_.state().apps[0].spec.replicas, 1);  // kept as it was
  EXPECT_EQ(publish(), Took::kGap);                     // the beacon too: still one behind
  full();
  EXPECT_EQ(mirror_.state().apps[0].spec.replicas, 3);
  state_.apps[0].spec.replicas = 4;
  EXPECT_EQ(publish(), Took::kApplied);
  expect_mirrored();
}

TEST_F(StateDeltaTest, AnotherStreamOrAnOlderWholeStateIsNotTaken) {
  publish();
  full();
  Differ restarted("run-2");
  EXPECT_EQ(mirror_.take(restarted.next(state_)), Took::kGap);
  msg::StateDelta old = last_;
  state_.revision = 5;
  publish();
  EXPECT_EQ(mirror_.take(old), Took::kStale);
  msg::State older;
  older.stream = "run-1";
  older.delta = 1;
  EXPECT_EQ(mirror_.take(older), Took::kStale);
  EXPECT_EQ(mirror_.state().revision, 5);
  // A registry before deltas names no stream: its state is always taken.
  msg::State unnamed;
  unnamed.revision = 2;
  EXPECT_EQ(mirror_.take(unnamed), Took::kWhole);
}

TEST(StateFollowerTest, AsksWhileItHoldsNothingAndAfterAGap) {
  ManualClock clock;
  Follower follower(clock, 500);
  EXPECT_TRUE(follower.should_ask());
  EXPECT_EQ(follower.ask_reason(), "start");
  EXPECT_FALSE(follower.should_ask());
  clock.advance(500);
  EXPECT_TRUE(follower.should_ask());

  Differ differ("run-1");
  msg::State state;
  state.apps = {app("web")};
  msg::StateDelta first = differ.next(state);
  msg::State whole = state;
  differ.stamp(whole);
  auto took = follower.take(topic::kStateFull, codec::encode(whole));
  ASSERT_TRUE(took && took->ok());
  EXPECT_EQ(**took, Took::kWhole);
  clock.advance(500);
  EXPECT_FALSE(follower.should_ask());

  state.revision = 1;
  differ.next(state);  // missed
  state.revision = 2;
  took = follower.take(topic::kStateDelta, codec::encode(differ.next(state)));
  ASSERT_TRUE(took && took->ok());
  EXPECT_EQ(**took, Took::kGap);
  EXPECT_EQ(follower.gaps(), 1);
  EXPECT_TRUE(follower.should_ask());
  EXPECT_EQ(follower.ask_reason(), "gap");

  // A body that does not decode changes nothing; another topic is none of the follower's.
  took = follower.take(topic::kStateDelta, "\xc1");
  ASSERT_TRUE(took);
  EXPECT_FALSE(took->ok());
  EXPECT_FALSE(follower.take(topic::kLbSpec, codec::encode(first)));
  EXPECT_EQ(follower.state().revision, 0);
}

}  // namespace
}  // namespace pier::state
