#include "cli/dev.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "cli/args.h"
#include "cli/keys.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/process.h"
#include "common/validate.h"
#include "common/version.h"

namespace pier::cli {
namespace fs = std::filesystem;
namespace {

// Set by SIGINT/SIGTERM, read by the supervisor and the demo thread (lock-free, so signal-safe).
std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free);
void on_signal(int) { g_stop = true; }

constexpr int64_t kRestartMs = 500;
constexpr int64_t kMaxRestartMs = 8000;
constexpr int kStopGraceMs = 5000;

std::string self_dir() {
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : exe.parent_path().string();
}

std::string program(const std::string& bin_dir, const std::string& name) {
  if (!bin_dir.empty()) {
    const std::string path = bin_dir + "/" + name;
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return name;
}

std::string line_value(const std::string& text, const std::string& name) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line))
    if (line.rfind(name + "=", 0) == 0) return line.substr(name.size() + 1);
  return {};
}

// A running (or waiting to restart) child.
struct Child {
  ChildSpec spec;
  pid_t pid = 0;
  int64_t started_ms = 0;
  int64_t restart_at_ms = 0;
  int64_t delay_ms = kRestartMs / 2;  // doubled on a quick death, so the first restart waits 500 ms
};

class Supervisor {
 public:
  Supervisor(std::string state_dir, std::string path_env, const Io& io)
      : state_dir_(std::move(state_dir)), path_env_(std::move(path_env)), io_(io) {}

  void say(const std::string& line) {
    std::lock_guard<std::mutex> lock(mutex_);
    io_.out(line);
  }

  void start(Child& child) {
    process::SpawnOptions options;
    options.argv = child.spec.argv;
    options.env = {{"PATH", path_env_}};
    options.output_path = state_dir_ + "/logs/" + child.spec.name + ".log";
    options.new_process_group = true;
    child.started_ms = clock_.steady_ms();
    auto pid = process::spawn(options);
    if (!pid.ok()) {
      child.delay_ms = std::min(child.delay_ms * 2, kMaxRestartMs);
      child.restart_at_ms = clock_.steady_ms() + child.delay_ms;
      say("pier dev: cannot start " + child.spec.name + ": " + pid.status().message() + "; retrying in " +
          std::to_string(child.delay_ms) + " ms");
      return;
    }
    child.pid = *pid;
    files::write_atomically(state_dir_ + "/pids/" + child.spec.name + ".pid", std::to_string(child.pid) + "\n");
  }

  // Restarts children that exited. Returns when the stop flag is set.
  void watch(std::vector<Child>& children, const std::atomic<bool>& stop) {
    while (!stop && !g_stop) {
      for (auto& child : children) {
        if (child.pid > 0) {
          auto code = process::try_wait(child.pid);
          if (!code) continue;
          child.delay_ms = next_delay(child);
          child.restart_at_ms = clock_.steady_ms() + child.delay_ms;
          say("pier dev: " + child.spec.name + " (pid " + std::to_string(child.pid) + ") exited with status " +
              std::to_string(*code) + "; restarting in " + std::to_string(child.delay_ms) + " ms (log: " + state_dir_ +
              "/logs/" + child.spec.name + ".log)");
          child.pid = 0;
        } else if (clock_.steady_ms() >= child.restart_at_ms) {
          start(child);
          if (child.pid > 0) say("pier dev: " + child.spec.name + " restarted (pid " + std::to_string(child.pid) + ")");
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  // Stops the given children: SIGTERM to each, SIGKILL to those still running after the grace period.
  void stop(std::vector<Child*> children) {
    for (auto* c : children)
      if (c->pid > 0) ::kill(c->pid, SIGTERM);
    const int64_t deadline = clock_.steady_ms() + kStopGraceMs;
    for (;;) {
      bool running = false;
      for (auto* c : children) {
        if (c->pid <= 0) continue;
        if (process::try_wait(c->pid)) {
          c->pid = 0;
          fs::remove(state_dir_ + "/pids/" + c->spec.name + ".pid");
        } else {
          running = true;
        }
      }
      if (!running) return;
      if (clock_.steady_ms() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (auto* c : children) {
      if (c->pid <= 0) continue;
      say("pier dev: " + c->spec.name + " did not stop within " + std::to_string(kStopGraceMs / 1000) + "s: killed");
      ::kill(c->pid, SIGKILL);
      process::wait(c->pid);
      c->pid = 0;
      fs::remove(state_dir_ + "/pids/" + c->spec.name + ".pid");
    }
  }

 private:
  int64_t next_delay(const Child& child) const {
    // A child that keeps dying right after its start backs off (500 ms doubling up to 8 s).
    const bool quick = clock_.steady_ms() - child.started_ms < 2000;
    return quick ? std::min(child.delay_ms * 2, kMaxRestartMs) : kRestartMs;
  }

  std::string state_dir_;
  std::string path_env_;
  const Io& io_;
  SystemClock clock_;
  std::mutex mutex_;
};

}  // namespace

std::string default_state_dir(bool root, const char* xdg_state_home, const char* home) {
  if (root) return "/var/lib/pier/dev";
  if (xdg_state_home != nullptr && *xdg_state_home == '/') return std::string(xdg_state_home) + "/pier/dev";
  if (home != nullptr && *home != '\0') return std::string(home) + "/.local/state/pier/dev";
  return "/tmp/pier-dev-" + std::to_string(::getuid());
}

std::string host_id_from(const std::string& hostname) {
  std::string id = hostname.substr(0, hostname.find('.'));
  for (auto& c : id) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return validate::dns_label("host", id).ok() ? id : "local";
}

std::vector<ChildSpec> dev_children(const DevOptions& o, const std::string& bin_dir, const std::string& host_id) {
  const std::vector<std::string> bus = {"--bus-pub", o.bus.pub, "--bus-sub", o.bus.sub, "--log-level", o.log_level};
  auto with_bus = [&](std::vector<std::string> argv) {
    argv.insert(argv.end(), bus.begin(), bus.end());
    return argv;
  };
  std::vector<std::string> bus_argv = {
      program(bin_dir, "pier-bus"), "--publishers",           o.bus.pub,     "--subscribers", o.bus.sub,
      "--endpoints-file",           o.state_dir + "/bus.env", "--log-level", o.log_level};
  if (o.bus_drop_share > 0)
    bus_argv.insert(bus_argv.end(),
                    {"--allow-fault-injection", "--drop-share", std::to_string(o.bus_drop_share), "--drop-seed",
                     std::to_string(o.bus_drop_seed), "--drop-for-ms", std::to_string(o.bus_drop_for_ms)});
  const std::string keys = dev_keys_dir(o);
  if (!o.insecure_bus)
    bus_argv.insert(bus_argv.end(), {"--curve-secret", keys + "/bus.key", "--allow", keys + "/allow"});
  // Each client speaks CURVE with the key named after it.
  auto keyed = [&](std::vector<std::string> argv, const std::string& key) {
    if (!o.insecure_bus)
      argv.insert(argv.end(), {"--curve-secret", keys + "/" + key + ".key", "--bus-public-key", keys + "/bus.pub"});
    return argv;
  };
  return {
      {"bus", bus_argv},
      {"registry", keyed(with_bus({program(bin_dir, "pier-registry"), "--db", o.state_dir + "/registry.db",
                                   "--platform-network", o.platform_network, "--docker-network", o.docker_network}),
                         "registry")},
      {"scheduler", keyed(with_bus({program(bin_dir, "pier-scheduler")}), "scheduler")},
      {"lbgen", keyed(with_bus({program(bin_dir, "pier-lbgen")}), "lbgen")},
      {"metrics", keyed(with_bus({program(bin_dir, "pier-metrics"), "--db", o.state_dir + "/metrics.db", "--listen",
                                  o.metrics_listen}),
                        "metrics")},
      {"agent", keyed(with_bus({program(bin_dir, "pier-agent"), "--host-id", host_id, "--address", "127.0.0.1",
                                "--state-dir", o.state_dir + "/agent", "--runtime", o.runtime, "--stats-port",
                                std::to_string(o.stats_port), "--stop-on-exit"}),
                      host_id)},
  };
}

std::string dev_keys_dir(const DevOptions& o) { return o.state_dir + "/keys"; }

std::vector<std::pair<std::string, keys::Role>> dev_key_names(const std::string& host_id) {
  return {{"registry", keys::Role::registry}, {"scheduler", keys::Role::scheduler},
          {"lbgen", keys::Role::lbgen},       {"metrics", keys::Role::metrics},
          {host_id, keys::Role::agent},       {"operator", keys::Role::operator_}};
}

std::string dev_env_text(const DevOptions& o, bool demo_live) {
  std::string text = "PIER_BUS_PUB=" + o.bus.pub + "\nPIER_BUS_SUB=" + o.bus.sub + "\nPIER_METRICS_URL=http://" +
                     o.metrics_listen + "/metrics\nPIER_STATS_URL=http://127.0.0.1:" + std::to_string(o.stats_port) +
                     "/stats\n";
  if (!o.insecure_bus)
    text += "PIER_CURVE_SECRET=" + dev_keys_dir(o) + "/operator.key\nPIER_BUS_PUBLIC_KEY=" + dev_keys_dir(o) +
            "/bus.pub\nPIER_KEYS_DIR=" + dev_keys_dir(o) + "\n";
  if (demo_live) text += "PIER_DEMO_URL=http://127.0.0.1:" + std::to_string(o.demo_port) + "/\n";
  return text;
}

msg::AppSpec demo_spec(int demo_port) {
  msg::AppSpec spec;
  spec.name = "demo";
  spec.image = "pier/demo-app";
  spec.tag = kVersion;
  spec.command = {"pier-demo-app"};
  spec.ports = {msg::PortMapping{demo_port, 8000}};
  spec.replicas = 3;
  return spec;
}

int run_dev(const std::vector<std::string>& args, const Io& io) {
  DevOptions o;
  po::options_description desc("pier dev options");
  // clang-format off
  desc.add_options()
      ("state-dir", po::value(&o.state_dir),
       "logs, pids, databases and dev.env go here (default /var/lib/pier/dev as root, else ~/.local/state/pier/dev)")
      ("bus-pub", po::value(&o.bus.pub)->default_value(o.bus.pub), "bus endpoint for publishers (pier-bus binds it)")
      ("bus-sub", po::value(&o.bus.sub)->default_value(o.bus.sub), "bus endpoint for subscribers (pier-bus binds it)")
      ("metrics-listen", po::value(&o.metrics_listen)->default_value(o.metrics_listen), "pier-metrics HTTP address")
      ("stats-port", po::value(&o.stats_port)->default_value(o.stats_port), "HAProxy stats/Prometheus port")
      ("demo", po::bool_switch(&o.demo), "deploy the demo app (3 replicas) once the stack is up")
      ("demo-port", po::value(&o.demo_port)->default_value(o.demo_port), "the demo app's external port")
      ("platform-network", po::value(&o.platform_network)->default_value(o.platform_network),
       "where instance addresses come from (inside 127.0.0.0/8); give two stacks on one machine different ones")
      ("docker-network", po::value(&o.docker_network)->default_value(o.docker_network),
       "where docker hosts' subnets come from (with --runtime docker)")
      ("runtime", po::value(&o.runtime)->default_value(o.runtime), "the agent's runtime: exec | docker")
      ("host-id", po::value(&o.host_id), "the agent's host id (default: from the hostname)")
      ("bus-drop-share", po::value(&o.bus_drop_share)->default_value(o.bus_drop_share),
       "tests only: pier-bus drops this share (0..1) of messages")
      ("bus-drop-seed", po::value(&o.bus_drop_seed)->default_value(o.bus_drop_seed), "tests only: seed of the drops")
      ("bus-drop-for-ms", po::value(&o.bus_drop_for_ms)->default_value(o.bus_drop_for_ms),
       "tests only: drop for this long after the bus starts (0: always)")
      ("log-level", po::value(&o.log_level)->default_value(o.log_level), "the children's log level")
      ("insecure-bus", po::bool_switch(&o.insecure_bus),
       "a plaintext bus (default: CURVE with keys made in <state-dir>/keys, an allowlist, a role per key)");
  // clang-format on
  const std::string usage =
      "usage: pier dev [--demo] [options]\n\nRuns pier-bus, pier-registry, pier-scheduler, pier-lbgen, pier-metrics "
      "and an exec-runtime pier-agent\nas children (found beside `pier`, else in PATH), restarts any that dies, stops "
      "them all on Ctrl-C.";
  auto parsed = parse_args(args, desc, nullptr, {"state-dir", "bus-pub", "bus-sub"});
  if (auto code = exit_after_parse(parsed, help_text(usage, desc), io)) return *code;
  if (!(o.bus_drop_share >= 0 && o.bus_drop_share <= 1) || o.bus_drop_for_ms < 0) {
    io.err("error: bus-drop-share: must be between 0 and 1, and bus-drop-for-ms at least 0");
    return kExitBadInput;
  }
  if (o.runtime != "exec" && o.runtime != "docker") {
    io.err("error: runtime: must be exec or docker");
    return kExitBadInput;
  }
  if (!o.host_id.empty())
    if (Status s = validate::dns_label("host-id", o.host_id); !s.ok()) {
      io.err("error: " + s.message());
      return kExitBadInput;
    }
  for (const auto& [field, port] : {std::pair{"stats-port", o.stats_port}, std::pair{"demo-port", o.demo_port}}) {
    if (Status s = validate::port(field, port); !s.ok()) {
      io.err("error: " + s.message());
      return kExitBadInput;
    }
  }
  if (o.state_dir.empty())
    o.state_dir = default_state_dir(::geteuid() == 0, std::getenv("XDG_STATE_HOME"), std::getenv("HOME"));
  std::error_code ec;
  o.state_dir = fs::absolute(o.state_dir, ec).string();
  for (const char* sub : {"logs", "pids", "agent"}) fs::create_directories(o.state_dir + "/" + sub, ec);
  if (ec) {
    io.err("error: state-dir: cannot create " + o.state_dir + ": " + ec.message());
    return kExitNotDone;
  }
  // Refuse to start a second stack on the same state directory.
  for (const char* name : {"bus", "registry", "agent"}) {
    pid_t pid = 0;
    std::ifstream(o.state_dir + "/pids/" + name + ".pid") >> pid;
    std::error_code exe_error;
    const auto exe = fs::read_symlink("/proc/" + std::to_string(pid) + "/exe", exe_error);
    if (pid > 0 && !exe_error && exe.filename().string().rfind("pier-", 0) == 0) {
      io.err("error: state-dir: another pier dev runs on " + o.state_dir + " (" + name + " pid " + std::to_string(pid) +
             ")");
      return kExitNotDone;
    }
  }

  const std::string keys_dir = dev_keys_dir(o);
  char host_name[256] = {};
  ::gethostname(host_name, sizeof host_name - 1);
  const std::string key_host = o.host_id.empty() ? host_id_from(host_name) : o.host_id;
  if (!o.insecure_bus) {
    if (Status s = ensure_dev_keys(keys_dir, dev_key_names(key_host)); !s.ok()) {
      io.err("error: keys: " + s.message());
      return kExitNotDone;
    }
    auto op = keys::read_secret_file(keys_dir + "/operator.key");
    auto bus_key = keys::read_public_key(keys_dir + "/bus.pub");
    if (!op.ok() || !bus_key.ok()) {
      io.err("error: keys: " + (op.ok() ? bus_key.status() : op.status()).message());
      return kExitNotDone;
    }
    o.bus.curve = bus::CurveKeys{op->public_key, op->secret_key, *bus_key};  // the demo's deploy, as operator
  }

  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  const std::string bin_dir = self_dir();
  const char* path = std::getenv("PATH");
  // Children (and the agent's exec instances, e.g. pier-demo-app) find pier's programs first.
  const std::string path_env = bin_dir + (path != nullptr && *path ? ":" + std::string(path) : "");
  char hostname[256] = {};
  ::gethostname(hostname, sizeof hostname - 1);
  const std::string host_id = o.host_id.empty() ? host_id_from(hostname) : o.host_id;
  Supervisor supervisor(o.state_dir, path_env, io);

  // The bus first; with an OS-chosen port ("tcp://127.0.0.1:*") the others need the one it bound.
  fs::remove(o.state_dir + "/bus.env", ec);
  std::vector<Child> children;
  for (auto& spec : dev_children(o, bin_dir, host_id)) children.push_back(Child{std::move(spec)});
  supervisor.start(children[0]);
  SystemClock clock;
  for (const int64_t deadline = clock.steady_ms() + 5000; clock.steady_ms() < deadline && !g_stop;) {
    const std::string bound = files::read_text(o.state_dir + "/bus.env");
    if (!line_value(bound, "PIER_BUS_SUB").empty()) {
      o.bus.pub = line_value(bound, "PIER_BUS_PUB");
      o.bus.sub = line_value(bound, "PIER_BUS_SUB");
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // From here on every child (the bus when it restarts, too) uses the endpoints actually bound.
  auto specs = dev_children(o, bin_dir, host_id);
  for (std::size_t i = 0; i < children.size(); ++i) children[i].spec = specs[i];
  for (std::size_t i = 1; i < children.size(); ++i) supervisor.start(children[i]);

  files::write_atomically(o.state_dir + "/dev.env", dev_env_text(o, false));
  supervisor.say("pier dev " + std::string(kVersion) + ": host " + host_id + ", state in " + o.state_dir);
  supervisor.say("  bus       publishers " + o.bus.pub + ", subscribers " + o.bus.sub);
  supervisor.say("  metrics   http://" + o.metrics_listen + "/metrics");
  supervisor.say("  haproxy   stats http://127.0.0.1:" + std::to_string(o.stats_port) +
                 "/stats, apps on their external ports");
  supervisor.say("  logs      " + o.state_dir + "/logs/<name>.log, pids in " + o.state_dir + "/pids/");
  supervisor.say("  cli       set -a; . " + o.state_dir +
                 "/dev.env; set +a   (then: pier ps, pier hosts, pier deploy ...)");
  for (const auto& c : children)
    supervisor.say("  started   " + c.spec.name +
                   (c.pid > 0 ? " (pid " + std::to_string(c.pid) + ")" : " (not running)"));

  std::atomic<bool> cancel_demo{false};
  std::thread demo;
  if (o.demo) {
    demo = std::thread([&] {
      Io demo_io{[&](const std::string& line) { supervisor.say(line); },
                 [&](const std::string& line) { supervisor.say(line); }};
      ChangeOptions options;
      options.endpoints = o.bus;
      options.reply_timeout_ms = 30'000;  // the registry may still be starting
      options.live_timeout_ms = 60'000;
      options.cancelled = [&] { return cancel_demo.load() || g_stop.load(); };
      const msg::AppSpec spec = demo_spec(o.demo_port);
      supervisor.say("pier dev: deploying the demo app (3 replicas of " + spec.image + ":" + spec.tag + " on port " +
                     std::to_string(o.demo_port) + ")");
      if (deploy(spec, options, demo_io) == kExitOk) {
        files::write_atomically(o.state_dir + "/dev.env", dev_env_text(o, true));
        supervisor.say("demo: http://127.0.0.1:" + std::to_string(o.demo_port) +
                       "/  (each request answers from the next instance)");
      } else if (!g_stop) {
        supervisor.say("pier dev: the demo is not live; the stack keeps running (see " + o.state_dir + "/logs/)");
      }
    });
  }

  std::atomic<bool> never{false};
  supervisor.watch(children, never);
  supervisor.say("pier dev: stopping (agent first, so that it stops its instances and HAProxy)");
  cancel_demo = true;
  if (demo.joinable()) demo.join();
  supervisor.stop({&children.back()});
  std::vector<Child*> others;
  for (std::size_t i = children.size() - 1; i-- > 0;) others.push_back(&children[i]);
  supervisor.stop(others);
  supervisor.say("pier dev: stopped");
  return kExitOk;
}

}  // namespace pier::cli
