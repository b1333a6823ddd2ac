// The pier subcommands. Each takes the words after its name and returns the process exit code:
// 0 done, 1 no reply from the registry or not live in time, 2 bad input or refused by the registry.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cli/args.h"
#include "common/bus.h"
#include "common/messages.h"

namespace pier::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitNotDone = 1;
inline constexpr int kExitBadInput = 2;

// Where a command's lines go: stdout and stderr for the CLI; `pier dev` passes its own printer.
struct Io {
  std::function<void(const std::string&)> out;
  std::function<void(const std::string&)> err;
};
Io standard_io();

// After parse_args: an error is printed ("... (see --help)") and gives kExitBadInput, --help prints `help`
// and gives kExitOk; nullopt when the command goes on.
std::optional<int> exit_after_parse(const Result<ParsedArgs>& parsed, const std::string& help, const Io& io);

struct ChangeOptions {
  bus::Endpoints endpoints;
  int64_t reply_timeout_ms = 10'000;  // snapshot + reply phase
  int64_t live_timeout_ms = 60'000;   // waiting until live
  bool detach = false;                // return once the registry accepted the command
  std::function<bool()> cancelled;    // polled while waiting (pier dev's Ctrl-C)
};

// Sends a deploy and (unless detached) waits until the app is live, printing progress: the path of both
// `pier deploy` and `pier dev --demo`. The spec must already be validated.
int deploy(const msg::AppSpec& spec, const ChangeOptions& options, const Io& io);

int run_deploy(const std::vector<std::string>& args, const Io& io);
int run_scale(const std::vector<std::string>& args, const Io& io);
int run_rm(const std::vector<std::string>& args, const Io& io);
int run_ps(const std::vector<std::string>& args, const Io& io);
int run_hosts(const std::vector<std::string>& args, const Io& io);

}  // namespace pier::cli
