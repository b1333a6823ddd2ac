// pier: the command line. Subcommands deploy, scale, rm, ps, hosts, top, why, autoscale and dev; see cli/README.md.
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/dev.h"
#include "cli/explain.h"
#include "cli/keys.h"
#include "cli/top.h"
#include "common/version.h"

namespace {

constexpr const char* kUsage =
    "usage: pier <command> [options]\n"
    "\n"
    "commands:\n"
    "  deploy   create or change an app (flags or -f app.yaml) and wait until it is live\n"
    "  scale    set an app's replica count: pier scale APP N\n"
    "  rm       remove an app: pier rm APP\n"
    "  ps       list instances: pier ps [APP]\n"
    "  hosts    list hosts\n"
    "  top      each app's replicas, CPU, requests/s and p95 latency, live: pier top [--once]\n"
    "  why      the autoscaler's recent decisions for an app: pier why APP [--last N]\n"
    "  autoscale  what the autoscaler would do now and why: pier autoscale APP --dry-run\n"
    "  dev      run the whole stack on this machine\n"
    "  keys     CURVE keys for the bus: pier keys new NAME --role ROLE, pier keys list\n"
    "  hosts add|remove NAME  join a host to the bus (its key, the allowlist, the command to run there) or revoke it\n"
    "\n"
    "`pier <command> --help` shows a command's options. --bus-pub/--bus-sub (or PIER_BUS_PUB/PIER_BUS_SUB)\n"
    "say where the bus is; --metrics-url (or PIER_METRICS_URL) where pier-metrics is (why, autoscale).\n"
    "Exit codes: 0 done, 1 no reply or not live in time, 2 bad input or refused.\n"
    "pier --version prints the version.";

}  // namespace

int main(int argc, char** argv) {
  using namespace pier::cli;
  using Command = int (*)(const std::vector<std::string>&, const Io&);
  const std::map<std::string, Command> commands = {
      {"deploy", run_deploy}, {"scale", run_scale}, {"rm", run_rm},   {"ps", run_ps},
      {"hosts", run_hosts},   {"dev", run_dev},     {"why", run_why}, {"autoscale", run_autoscale},
      {"top", run_top},       {"keys", run_keys}};
  // Options that take a value may come before the command ("pier --bus-sub X ps"): skip their values.
  const std::set<std::string> value_options = {
      "--bus-pub", "--bus-sub", "--curve-secret", "--bus-public-key", "--timeout",
      "--output",  "-o",        "--metrics-url",  "--last",           "-n"};
  const Io io = standard_io();
  std::vector<std::string> before, after;
  std::string command;
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (!command.empty()) {
      after.push_back(word);
    } else if (commands.count(word)) {
      command = word;
    } else if (word == "--version") {
      std::cout << pier::kVersion << "\n";
      return kExitOk;
    } else if (word == "--help" || word == "-h" || word == "help") {
      std::cout << kUsage << "\n";
      return kExitOk;
    } else {
      before.push_back(word);
      if (value_options.count(word) && i + 1 < argc) before.push_back(argv[++i]);
    }
  }
  if (command.empty()) {
    std::cerr << (before.empty() ? std::string("error: no command given")
                                 : "error: unknown command or option '" + before[0] + "'")
              << "\n\n"
              << kUsage << "\n";
    return kExitBadInput;
  }
  before.insert(before.end(), after.begin(), after.end());
  return commands.at(command)(before, io);
}
