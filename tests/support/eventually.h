// Waits on a condition with a deadline, for tests that drive real processes (a bounded poll, not a
// sleep used as synchronisation).
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace pier::test_support {

// Polls `condition` every 10 ms until it holds (true) or `timeout` passes (false).
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace pier::test_support
