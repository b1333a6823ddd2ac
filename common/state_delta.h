// The registry's state as a stream of changes (topics state.delta and state.full; the Clone pattern):
// the registry publishes what changed since its last delta, numbered, and the whole state on request and
// at a low rate; every reader keeps a mirror of it. A reader that missed a delta sees the next number
// (or the next beacon's) skip past its own and asks for the whole state; until it comes it keeps what it
// holds. One publisher's messages arrive in the order sent, so a state.full carrying the number of the
// last delta it includes is followed by exactly the deltas after it: nothing needs buffering.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/messages.h"
#include "common/status.h"

namespace pier::state {

// The registry's side: what changed since the last call, as the next delta of its stream.
class Differ {
 public:
  explicit Differ(std::string stream) : stream_(std::move(stream)) {}

  // The delta from the state last passed here to `state`, numbered one past the last when it changes
  // something; else the beacon (the last number, nothing in it). The first call lists every record.
  msg::StateDelta next(const msg::State& state);

  // `state` as a state.full of this stream: it includes every delta made so far.
  void stamp(msg::State& state) const;

  const std::string& stream() const { return stream_; }
  int64_t number() const { return number_; }

  // A record as last sent: its encoding, and the call that last saw it.
  struct Sent {
    std::string encoded;
    uint64_t round = 0;
  };

 private:
  std::string stream_;
  int64_t number_ = 0;
  int64_t revision_ = 0;
  // Every record as last sent, by key: a record whose encoding differs has changed.
  std::map<std::string, Sent> hosts_, apps_, instances_;
  uint64_t round_ = 0;
  std::string refused_;
};

// A host's record as deltas compare it: without last_seen_ms, which changes with every heartbeat and
// is no change by itself (a delta carries the host's value as of its last change; state.full the latest).
msg::HostRecord comparable(msg::HostRecord host);

// A reader's copy of the state.
class Mirror {
 public:
  enum class Took {
    kWhole,    // a state.full: the mirror holds it now
    kApplied,  // the next delta: applied
    kCurrent,  // a beacon or a delta already held: nothing to do, the mirror is current
    kStale,    // a delta of an older stream or number, or a full older than what is held: ignored
    kGap,      // a delta the mirror cannot apply (none held, another stream, a number skipped):
               // ask for state.full; the mirror keeps what it holds meanwhile
  };

  Took take(msg::State state);
  Took take(const msg::StateDelta& delta);

  bool has_state() const { return has_state_; }
  const msg::State& state() const { return state_; }

 private:
  bool has_state_ = false;
  msg::State state_;
};

// Whether `took` changed what the mirror holds.
inline bool changed(Mirror::Took took) { return took == Mirror::Took::kWhole || took == Mirror::Took::kApplied; }

// The topics a reader of the state subscribes to.
std::vector<std::string> topics();

// A reader's side of the stream: decodes state.full and state.delta into its mirror, and says when to
// ask for the whole state (cmd.snapshot): while it holds none, and after a gap.
class Follower {
 public:
  explicit Follower(const Clock& clock, int64_t ask_every_ms = 500) : clock_(clock), ask_every_ms_(ask_every_ms) {}

  // Takes a message of one of topics(); another topic is no state message (nullopt). A body that does
  // not decode is an error (the mirror is unchanged).
  std::optional<Result<Mirror::Took>> take(std::string_view topic, std::string_view body);

  // Whether to ask for state.full now: no state yet, or a delta did not apply; at most every
  // ask_every_ms. True counts as asking.
  bool should_ask();
  // Why (for SnapshotRequest.reason): "start" or "gap".
  std::string ask_reason() const { return mirror_.has_state() ? "gap" : "start"; }

  bool has_state() const { return mirror_.has_state(); }
  const msg::State& state() const { return mirror_.state(); }
  int64_t gaps() const { return gaps_; }

 private:
  const Clock& clock_;
  int64_t ask_every_ms_;
  Mirror mirror_;
  bool behind_ = false;  // a gap seen since the last whole state
  int64_t last_ask_ms_ = 0;
  bool asked_ = false;
  int64_t gaps_ = 0;
};

}  // namespace pier::state
