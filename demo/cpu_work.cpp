#include "demo/cpu_work.h"

#include <time.h>

#include <charconv>
#include <cstdint>

namespace pier::demo {
namespace {

double thread_cpu_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1000.0 + static_cast<double>(ts.tv_nsec) / 1e6;
}

}  // namespace

Result<int> parse_work_ms(const std::optional<std::string>& text) {
  const std::string rule = "must be a whole number of milliseconds from " + std::to_string(kMinWorkMs) + " to " +
                           std::to_string(kMaxWorkMs) + ", like /work?ms=50";
  if (!text) return Status::Invalid("ms", "is missing: " + rule);
  int ms = 0;
  const char* end = text->data() + text->size();
  auto [ptr, ec] = std::from_chars(text->data(), end, ms);
  if (text->empty() || ec != std::errc() || ptr != end || ms < kMinWorkMs || ms > kMaxWorkMs)
    return Status::Invalid("ms", rule);
  return ms;
}

double burn_cpu(int ms) {
  const double start = thread_cpu_ms();
  double used = 0;
  volatile uint64_t sink = 0;  // volatile: the compiler may not drop the arithmetic
  // The CPU clock is a system call: arithmetic between readings keeps most of the time in user space.
  while ((used = thread_cpu_ms() - start) < ms) {
    for (uint64_t i = 0; i < 20'000; ++i) sink = sink + i * i;
  }
  return used;
}

}  // namespace pier::demo
