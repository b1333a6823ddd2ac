// Placement: which host each unplaced instance goes to. A pure function of the state: no I/O, no
// clock, no randomness, so the same state always gives the same plan.
#pragma once

#include <vector>

#include "common/messages.h"

namespace pier::scheduler {

struct Plan {
  std::vector<msg::Assignment> assignments;
  std::vector<msg::Unplaced> unplaced;
  bool empty() const { return assignments.empty() && unplaced.empty(); }
};

struct PlacementOptions {
  // CPU is a limit (the docker runtime caps each container at its cpu), and a compressible one: a
  // host takes up to this many times its cores in instance cpu. Memory is not compressible and is
  // never overcommitted.
  double cpu_overcommit = 4.0;
};

// Places every instance without a host on an up host where its app's CPU (times the overcommit)
// and memory fit next to what is already placed there, preferring the host with the fewest instances of the same app
// (spread), then the least loaded CPU, then the host id (determinism). Instances that fit nowhere
// are listed as unplaced with the reason.
Plan place(const msg::State& state, const PlacementOptions& options = {});

}  // namespace pier::scheduler
