#include "common/stop_signal.h"

#include <csignal>

namespace pier::stop_signal {
namespace {

volatile std::sig_atomic_t g_requested = 0;
void on_signal(int) { g_requested = 1; }

}  // namespace

void install() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
}

bool requested() { return g_requested != 0; }
void request() { g_requested = 1; }

}  // namespace pier::stop_signal
