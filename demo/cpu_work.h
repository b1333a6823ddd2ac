// The demo's CPU-burning endpoint (GET /work?ms=N): checking its request and doing the work, so that
// load tests can make instances busy in a measured way.
#pragma once

#include <optional>
#include <string>

#include "common/status.h"

namespace pier::demo {

inline constexpr int kMinWorkMs = 1;
inline constexpr int kMaxWorkMs = 10'000;

// The `ms` query parameter (nullopt: absent) -> milliseconds of CPU to burn, 1-10000. Anything else is
// Invalid("ms", ...).
Result<int> parse_work_ms(const std::optional<std::string>& text);

// Spins on the calling thread until it has used `ms` milliseconds of CPU time (its own, not the wall
// clock's: on a busy machine a request then takes longer, as real work would). Returns the CPU time
// used, in milliseconds.
double burn_cpu(int ms);

}  // namespace pier::demo
