// The one logger: spdlog's default logger, set up once per process. Log lines are for operators: one
// line per event that matters, naming the app, instance, host and revision it concerns.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace pier::log {

// Sets the process name shown on every line and the level (trace|debug|info|warn|error|off).
// Lines go to stderr.
void init(const std::string& service, const std::string& level);

}  // namespace pier::log
