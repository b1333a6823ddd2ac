// Latest-wins values between threads: a newer value replaces one not taken yet, a wait ends when a
// value comes, when its time is up, or when its stop token is asked to stop.
#include "services/agent/latest.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <string>
#include <thread>

namespace pier::agent {
namespace {

TEST(MailboxTest, TakesTheNewestValueOnce) {
  Mailbox<std::string> box;
  EXPECT_FALSE(box.take());
  box.put("a");
  box.put("b");
  EXPECT_EQ(box.take(), std::optional<std::string>("b"));
  EXPECT_FALSE(box.take());
}

TEST(MailboxTest, AWaitEndsWhenAValueComesFromAnotherThread) {
  Mailbox<std::string> box;
  std::jthread producer([&] { box.put("state"); });
  std::stop_source never;
  EXPECT_EQ(box.take(never.get_token(), 60'000), std::optional<std::string>("state"));
}

TEST(MailboxTest, AWaitEndsWithNothingWhenItsTimeIsUpOrStopIsRequested) {
  Mailbox<int> box;
  std::stop_source never;
  EXPECT_FALSE(box.take(never.get_token(), 1));
  std::optional<int> got = 0;
  std::jthread waiter([&](std::stop_token stop) { got = box.take(stop, 60'000); });
  waiter.request_stop();
  waiter.join();  // would take a minute if the stop did not end the wait
  EXPECT_FALSE(got);
}

TEST(SnapshotTest, ReadersCopyTheNewestValueAndCountChanges) {
  Snapshot<std::string> snapshot;
  EXPECT_EQ(snapshot.get(), "");
  EXPECT_EQ(snapshot.changes(), 0u);
  snapshot.set("one", false);
  EXPECT_EQ(snapshot.get(), "one");
  EXPECT_EQ(snapshot.changes(), 0u);
  snapshot.set("two", true);
  EXPECT_EQ(snapshot.get(), "two");
  EXPECT_EQ(snapshot.get(), "two");
  EXPECT_EQ(snapshot.changes(), 1u);
}

bool readable(const Wakeup& wake) {
  pollfd item{wake.fd(), POLLIN, 0};
  return ::poll(&item, 1, 0) == 1;
}

TEST(WakeupTest, AChangedSnapshotMakesItsWakeupReadableUntilCleared) {
  Wakeup wake;
  Snapshot<int> snapshot(&wake);
  EXPECT_FALSE(readable(wake));
  snapshot.set(1, false);
  EXPECT_FALSE(readable(wake)) << "a value that is no change wakes nobody";
  snapshot.set(2, true);
  snapshot.set(3, true);
  EXPECT_TRUE(readable(wake));
  wake.clear();
  EXPECT_FALSE(readable(wake)) << "one clear for any number of changes";
}

}  // namespace
}  // namespace pier::agent
