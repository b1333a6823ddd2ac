#include "cli/commands.h"

#include <fstream>
#include <iostream>
#include <sstream>
#include <zmq.hpp>

#include "cli/args.h"
#include "cli/deploy_spec.h"
#include "cli/keys.h"
#include "cli/listing.h"
#include "cli/liveness.h"
#include "cli/registry_client.h"
#include "common/codec.h"
#include "common/options.h"
#include "common/topics.h"
#include "common/validate.h"

namespace pier::cli {
namespace {

// Options every command shares.
struct CommonFlags {
  bus::Endpoints endpoints;
  int timeout_s = 0;  // 0: the command's defaults
  std::string output = "table";
  bool detach = false;
};

enum Extras { kNone = 0, kOutput = 1, kDetach = 2 };

void add_common(po::options_description& desc, CommonFlags& flags, int extras) {
  options::add_bus(desc, flags.endpoints);
  desc.add_options()("timeout", po::value(&flags.timeout_s),
                     (extras & kDetach) ? "seconds to wait for the registry's reply (default 10) and then until the "
                                          "change is live (default 60)"
                                        : "seconds to wait for the registry (default 10)");
  if (extras & kOutput)
    desc.add_options()("output,o", po::value(&flags.output)->default_value(flags.output), "table | json");
  if (extras & kDetach)
    desc.add_options()("detach,d", po::bool_switch(&flags.detach), "return once the registry accepted the change");
}

const std::vector<std::string> kEnvOptions = {"bus-pub", "bus-sub", "curve-secret", "bus-public-key"};

std::string bus_help_text(const std::string& usage, const po::options_description& desc) {
  return help_text(usage, desc) +
         "\n--bus-pub, --bus-sub, --curve-secret and --bus-public-key can also be set as PIER_BUS_PUB, "
         "PIER_BUS_SUB, PIER_CURVE_SECRET and PIER_BUS_PUBLIC_KEY.\n";
}

// Parses; on --help prints it and returns 0, on error prints it and returns 2, else nullopt.
std::optional<int> parse_or_return(const std::vector<std::string>& args, const po::options_description& desc,
                                   const po::positional_options_description* positional, const std::string& usage,
                                   const Io& io, po::variables_map* values = nullptr) {
  auto parsed = parse_args(args, desc, positional, kEnvOptions);
  if (auto code = exit_after_parse(parsed, bus_help_text(usage, desc), io)) return code;
  if (values != nullptr) *values = std::move(parsed->values);
  return std::nullopt;
}

void print_refusal(const msg::Reply& reply, const Io& io) {
  if (!reply.field.empty())
    io.err("error: " + reply.field + ": " + reply.rule);
  else
    io.err("error: " + (reply.message.empty() ? std::string("refused by pier-registry") : reply.message));
}

std::string no_reply(const bus::Endpoints& endpoints, int64_t timeout_ms) {
  return "error: no reply from pier-registry within " + std::to_string(timeout_ms / 1000) + "s (is the bus at " +
         endpoints.pub + " up?)";
}

ChangeOptions change_options(const CommonFlags& flags) {
  ChangeOptions options;
  options.endpoints = flags.endpoints;
  options.detach = flags.detach;
  if (flags.timeout_s > 0) {
    options.reply_timeout_ms = flags.timeout_s * 1000LL;
    options.live_timeout_ms = flags.timeout_s * 1000LL;
  }
  return options;
}

// Sends one command, then (unless detached) follows the state until `app` has `wanted` live instances.
int change(std::string_view topic, const std::string& body, const std::string& app, int wanted,
           const ChangeOptions& options, const Io& io) {
  SystemClock clock;
  zmq::context_t context;
  RegistryClient client(context, options.endpoints, clock, options.cancelled);
  if (!client.snapshot(options.reply_timeout_ms)) {
    io.err(no_reply(options.endpoints, options.reply_timeout_ms));
    return kExitNotDone;
  }
  auto reply = client.request(topic, body, options.reply_timeout_ms);
  if (!reply) {
    io.err(no_reply(options.endpoints, options.reply_timeout_ms));
    return kExitNotDone;
  }
  if (!reply->ok) {
    print_refusal(*reply, io);
    return reply->field.empty() ? kExitNotDone : kExitBadInput;
  }
  if (options.detach) {
    io.out(app + ": accepted (revision " + std::to_string(reply->revision) + ")");
    return kExitOk;
  }
  ProgressTracker tracker(app);
  std::optional<Liveness> last;
  const int64_t deadline = clock.steady_ms() + options.live_timeout_ms;
  while (clock.steady_ms() < deadline && !(options.cancelled && options.cancelled())) {
    auto state = client.next_state(std::min<int64_t>(500, deadline - clock.steady_ms()));
    if (!state || state->revision < reply->revision) continue;  // older than the change: not evidence
    for (const auto& line : tracker.update(*state)) io.out(line);
    last = assess(*state, app, wanted, reply->revision);
    if (!last->rollout_failed.empty()) {  // the change was undone: it will not become live
      io.err("error: " + app + " not live: " + last->rollout_failed);
      return kExitNotDone;
    }
    if (last->live) {
      io.out(final_line(*state, app, wanted));
      return kExitOk;
    }
    if (last->failed > 0) break;  // the agent gave up on an instance: waiting longer changes nothing
  }
  std::string why = last && last->failed > 0
                        ? "error: " + app + " not live: " + std::to_string(last->failed) + " instance(s) failed"
                        : "error: " + app + " not live after " + std::to_string(options.live_timeout_ms / 1000) + "s";
  if (last) {
    why += ": " + last->summary();
    for (std::size_t i = 0; i < last->waiting_on.size() && i < 5; ++i) why += "; " + last->waiting_on[i];
  } else {
    why += ": no state newer than revision " + std::to_string(reply->revision) + " arrived";
  }
  io.err(why);
  return kExitNotDone;
}

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

Io standard_io() {
  return Io{[](const std::string& line) { std::cout << line << "\n"
                                                    << std::flush; },
            [](const std::string& line) { std::cerr << line << "\n"
                                                    << std::flush; }};
}

std::optional<int> exit_after_parse(const Result<ParsedArgs>& parsed, const std::string& help, const Io& io) {
  if (!parsed.ok()) {
    io.err("error: " + parsed.status().message() + " (see --help)");
    return kExitBadInput;
  }
  if (parsed->help) {
    io.out(help);
    return kExitOk;
  }
  return std::nullopt;
}

int deploy(const msg::AppSpec& spec, const ChangeOptions& options, const Io& io) {
  return change(topic::kDeploy, codec::encode(msg::DeployCommand{spec}), spec.name, spec.replicas, options, io);
}

int run_deploy(const std::vector<std::string>& args, const Io& io) {
  CommonFlags common;
  DeployFlags flags;
  std::string file;
  po::options_description desc("pier deploy options");
  // clang-format off
  desc.add_options()
      ("file,f", po::value(&file), "app file (YAML) with the same fields; flags override it")
      ("name", po::value<std::string>(), "app name (DNS label)")
      ("image", po::value<std::string>(), "image name (Docker reference; may end in :tag)")
      ("tag", po::value<std::string>(), "image tag (default latest)")
      ("command", po::value<std::vector<std::string>>()->composing(),
       "argv for the exec runtime, split on blanks (repeatable; words are appended)")
      ("port", po::value<std::vector<std::string>>()->composing(), "EXTERNAL:INTERNAL (repeatable)")
      ("protocol", po::value<std::string>(), "http | tcp (default http)")
      ("replicas", po::value<std::string>(), "instances wanted, 0-1000 (default 1)")
      ("cpu", po::value<std::string>(), "cores per instance (default 0.1)")
      ("memory", po::value<std::string>(), "memory per instance, e.g. 64m (default 64m)")
      ("env", po::value<std::vector<std::string>>()->composing(), "KEY=VALUE (repeatable)")
      ("context-path", po::value<std::string>(), "http: path prefix routed to this app (default /)")
      ("algorithm", po::value<std::string>(), "roundrobin | leastconn | source | uri (http) (default roundrobin)")
      ("health-path", po::value<std::string>(), "http: HAProxy checks GET on this path (default /)")
      ("check-rise", po::value<std::string>(), "passed checks before an instance takes traffic (default 2)")
      ("check-fall", po::value<std::string>(), "failed checks before it stops taking traffic (default 3)")
      ("check-inter", po::value<std::string>(), "time between checks: 2000, 500ms or 2s (default 2s)")
      ("proxy-protocol", po::bool_switch(&flags.proxy_protocol),
       "tcp apps: start each connection to an instance with a PROXY protocol v2 header (the client's address)")
      ("drain-timeout", po::value<std::string>(),
       "before an instance stops, how long its connections may take to finish (default 30s)")
      ("max-surge", po::value<std::string>(), "rolling redeploy: instances above replicas at most (default 1)")
      ("max-unavailable", po::value<std::string>(),
       "rolling redeploy: healthy instances below replicas at most (default 0)")
      ("rollout-timeout", po::value<std::string>(),
       "rolling redeploy: roll back when new instances are not healthy this long after the last step (default 60s)");
  // clang-format on
  add_common(desc, common, kDetach);
  po::variables_map vm;
  const std::string usage =
      "usage: pier deploy [-f app.yaml] [--name N --image I --port E:I ...] [options]\n\n"
      "Creates or changes an app, then waits until every instance runs and HAProxy on every up host serves\n"
      "exactly them (unless --detach). Exit codes: 0 live, 1 no reply or not live in time, 2 bad input.";
  if (auto done = parse_or_return(args, desc, nullptr, usage, io, &vm)) return *done;
  auto text = [&](const char* key) -> std::optional<std::string> {
    if (!vm.count(key)) return std::nullopt;
    return vm[key].as<std::string>();
  };
  auto list = [&](const char* key) -> std::vector<std::string> {
    if (!vm.count(key)) return {};
    return vm[key].as<std::vector<std::string>>();
  };
  flags.name = text("name");
  flags.image = text("image");
  flags.tag = text("tag");
  flags.protocol = text("protocol");
  flags.replicas = text("replicas");
  flags.cpu = text("cpu");
  flags.memory = text("memory");
  flags.context_path = text("context-path");
  flags.algorithm = text("algorithm");
  flags.health_path = text("health-path");
  flags.check_rise = text("check-rise");
  flags.check_fall = text("check-fall");
  flags.check_inter = text("check-inter");
  flags.drain_timeout = text("drain-timeout");
  flags.max_surge = text("max-surge");
  flags.max_unavailable = text("max-unavailable");
  flags.rollout_timeout = text("rollout-timeout");
  flags.command = list("command");
  flags.ports = list("port");
  flags.env = list("env");
  std::optional<std::string> yaml;
  if (!file.empty()) {
    yaml = read_text(file);
    if (!yaml) {
      io.err("error: file: cannot read " + file);
      return kExitBadInput;
    }
  }
  auto spec = build_spec(yaml, flags);
  if (!spec.ok()) {
    io.err("error: " + spec.status().message());
    return kExitBadInput;
  }
  return deploy(*spec, change_options(common), io);
}

int run_scale(const std::vector<std::string>& args, const Io& io) {
  CommonFlags common;
  std::string app, replicas;
  po::options_description desc("pier scale options");
  // clang-format off
  desc.add_options()
      ("app", po::value(&app), "app name")
      ("replicas", po::value(&replicas), "instances wanted");
  // clang-format on
  add_common(desc, common, kDetach);
  po::positional_options_description positional;
  positional.add("app", 1).add("replicas", 1);
  const std::string usage =
      "usage: pier scale APP N [options]\n\nSets the app's replica count, then waits until the change is live "
      "(unless --detach).";
  if (auto done = parse_or_return(args, desc, &positional, usage, io)) return *done;
  if (app.empty() || replicas.empty()) {
    io.err("error: pier scale needs APP and N (see --help)");
    return kExitBadInput;
  }
  if (Status s = validate::dns_label("app", app); !s.ok()) {
    io.err("error: " + s.message());
    return kExitBadInput;
  }
  auto n = validate::parse_int("replicas", replicas);
  Status s = n.ok() ? validate::replicas("replicas", *n) : n.status();
  if (!s.ok()) {
    io.err("error: " + s.message());
    return kExitBadInput;
  }
  return change(topic::kScale, codec::encode(msg::ScaleCommand{app, *n}), app, *n, change_options(common), io);
}

int run_rm(const std::vector<std::string>& args, const Io& io) {
  CommonFlags common;
  std::string app;
  po::options_description desc("pier rm options");
  desc.add_options()("app", po::value(&app), "app name");
  add_common(desc, common, kDetach);
  po::positional_options_description positional;
  positional.add("app", 1);
  const std::string usage =
      "usage: pier rm APP [options]\n\nRemoves the app and its instances, then waits until no instance is left "
      "and no HAProxy serves one (unless --detach).";
  if (auto done = parse_or_return(args, desc, &positional, usage, io)) return *done;
  if (app.empty()) {
    io.err("error: pier rm needs APP (see --help)");
    return kExitBadInput;
  }
  if (Status s = validate::dns_label("app", app); !s.ok()) {
    io.err("error: " + s.message());
    return kExitBadInput;
  }
  return change(topic::kRemove, codec::encode(msg::RemoveCommand{app}), app, 0, change_options(common), io);
}

namespace {

// Reads one state.full for ps and hosts; prints the error and returns nullopt when none comes.
std::optional<msg::State> read_state(const CommonFlags& common, const Io& io) {
  SystemClock clock;
  zmq::context_t context;
  RegistryClient client(context, common.endpoints, clock);
  const int64_t timeout_ms = common.timeout_s > 0 ? common.timeout_s * 1000LL : 10'000;
  auto state = client.snapshot(timeout_ms);
  if (!state) io.err(no_reply(common.endpoints, timeout_ms));
  return state;
}

bool check_output(const CommonFlags& common, const Io& io) {
  if (common.output == "table" || common.output == "json") return true;
  io.err("error: output: must be table or json");
  return false;
}

}  // namespace

int run_ps(const std::vector<std::string>& args, const Io& io) {
  CommonFlags common;
  std::string app;
  po::options_description desc("pier ps options");
  desc.add_options()("app", po::value(&app), "only this app's instances");
  add_common(desc, common, kOutput);
  po::positional_options_description positional;
  positional.add("app", 1);
  const std::string usage = "usage: pier ps [APP] [options]\n\nLists instances: where they run, their IP and state.";
  if (auto done = parse_or_return(args, desc, &positional, usage, io)) return *done;
  if (!check_output(common, io)) return kExitBadInput;
  auto state = read_state(common, io);
  if (!state) return kExitNotDone;
  if (common.output == "json") {
    io.out(instances_json(*state, app).dump(2));
  } else {
    const std::string table = instances_table(*state, app);
    io.out(table.substr(0, table.size() - 1));
  }
  return kExitOk;
}

int run_hosts(const std::vector<std::string>& args, const Io& io) {
  if (!args.empty() && args[0] == "add") return run_hosts_add({args.begin() + 1, args.end()}, io);
  if (!args.empty() && args[0] == "remove") return run_hosts_remove({args.begin() + 1, args.end()}, io);
  CommonFlags common;
  po::options_description desc("pier hosts options");
  add_common(desc, common, kOutput);
  const std::string usage =
      "usage: pier hosts [options]\n       pier hosts add|remove NAME (see pier hosts add --help)\n\nLists hosts: "
      "facts, subnet, status and their HAProxy.";
  if (auto done = parse_or_return(args, desc, nullptr, usage, io)) return *done;
  if (!check_output(common, io)) return kExitBadInput;
  auto state = read_state(common, io);
  if (!state) return kExitNotDone;
  if (common.output == "json") {
    io.out(hosts_json(*state).dump(2));
  } else {
    SystemClock clock;
    std::string table = hosts_table(*state, clock.now_ms());
    io.out(table.substr(0, table.size() - 1));
  }
  return kExitOk;
}

}  // namespace pier::cli
