#include "tests/e2e/harness.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/keys.h"
#include "common/process.h"
#include "common/version.h"
#include "tests/support/raw_http.h"

namespace pier::e2e {
namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

pid_t read_pid(const std::string& path) {
  pid_t pid = 0;
  std::ifstream(path) >> pid;
  return pid;
}

void report_fault(const std::string& fault, int64_t sent, int64_t failed, int64_t converged_ms,
                  const std::string& notes) {
  std::cout << "[ fault ] " << fault << " | sent " << sent << " | failed " << failed << " | converged_ms "
            << converged_ms << " | " << notes << std::endl;
}

int processes_of_app(const std::string& app) {
  const std::string wanted = "PIER_APP=" + app;
  int count = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string environ = read_file(entry.path().string() + "/environ");
    std::size_t start = 0;
    while (start < environ.size()) {
      std::size_t end = environ.find('\0', start);
      if (end == std::string::npos) end = environ.size();
      if (environ.compare(start, end - start, wanted) == 0) {
        ++count;
        break;
      }
      start = end + 1;
    }
  }
  return count;
}

std::string host_status(const nlohmann::json& hosts, const std::string& id) {
  if (!hosts.is_array()) return "";
  for (const auto& h : hosts)
    if (h.value("id", "") == id) return h.value("status", "");
  return "";
}

std::map<std::string, std::string> placement(const nlohmann::json& ps, const std::string& app, bool* all_running) {
  std::map<std::string, std::string> out;
  bool running = true;
  if (ps.is_array())
    for (const auto& i : ps)
      if (i.value("app", "") == app) {
        out[i.value("id", "")] = i.value("host", "");
        running = running && i.value("state", "") == "running";
      }
  if (all_running != nullptr) *all_running = running && !out.empty();
  return out;
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

int64_t ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
}

loadgen::Options steady_load(int port, double per_worker, int64_t max_ms) {
  loadgen::Options o;
  o.port = port;
  o.keepalive_workers = 2;
  o.fresh_workers = 2;
  o.requests_per_second = per_worker;
  o.max_requests = 100'000'000;
  o.max_duration_ms = max_ms;
  o.timeout_ms = 5'000;
  return o;
}

loadgen::Options saturating_load(int port, int64_t max_ms) {
  loadgen::Options o = steady_load(port, 0, max_ms);
  o.keepalive_workers = 12;
  o.fresh_workers = 12;
  o.failures_kept = 20;  // when they failed is told by the test's own timeline
  return o;
}

std::optional<HttpAnswer> http_get(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2);
  client.set_read_timeout(5);
  auto res = client.Get(path.c_str());
  if (!res) return std::nullopt;
  return HttpAnswer{res->status, res->body};
}

std::multiset<std::string> answers(int port, const std::string& path, int count) {
  std::multiset<std::string> seen;
  for (int i = 0; i < count; ++i) {
    auto answer = http_get(port, path);
    if (!answer || answer->status != 200) {
      seen.insert("<failed " + std::to_string(answer ? answer->status : 0) + ">");
      continue;
    }
    auto start = answer->body.find("instance=");
    auto end = answer->body.find(' ', start);
    seen.insert(start == std::string::npos ? "<no instance>" : answer->body.substr(start + 9, end - start - 9));
  }
  return seen;
}

std::vector<std::string> deploy_args(const std::string& name, int port, int replicas, const std::string& context_path) {
  return {"deploy",
          "--name",
          name,
          "--image",
          "pier/demo-app",
          "--tag",
          kVersion,
          "--command",
          "pier-demo-app",
          "--port",
          std::to_string(port) + ":8000",
          "--replicas",
          std::to_string(replicas),
          "--context-path",
          context_path,
          "--timeout",
          "60"};
}

std::set<std::string> distinct(const std::multiset<std::string>& all) { return {all.begin(), all.end()}; }

std::set<std::string> instance_ids(const nlohmann::json& ps, const std::string& app) {
  std::set<std::string> ids;
  if (!ps.is_array()) return ids;
  for (const auto& i : ps)
    if (i.value("app", "") == app) ids.insert(i.value("id", ""));
  return ids;
}

std::set<std::string> not_draining(const nlohmann::json& ps, const std::string& app) {
  std::set<std::string> ids;
  if (ps.is_array())
    for (const auto& i : ps)
      if (i.value("app", "") == app && i.value("state", "") != "draining") ids.insert(i.value("id", ""));
  return ids;
}

std::optional<std::string> tcp_echo(int port, const std::string& text, std::size_t expect) {
  if (expect == 0) expect = text.size();
  const int fd = test_support::connect_loopback(port, 3);
  if (fd < 0) return std::nullopt;
  ::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
  std::string got;
  char buf[4096];
  while (got.size() < expect) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (got.empty()) return std::nullopt;
  return got;
}

// A /16 of 127.0.0.0/8 of its own, so that this stack's instance addresses cannot meet those of
// another stack on the machine (a developer's `pier dev` uses 127.100.0.0/16).
static std::string platform_network() {
  std::random_device seed;
  const int second = 101 + static_cast<int>(seed() % 150);  // 127.101 - 127.250
  return "127." + std::to_string(second) + ".0.0/16";
}

Stack::Stack(const std::vector<std::string>& extra) : dir_("pier-e2e-") {
  const std::string bus_pub = "tcp://127.0.0.1:" + std::to_string(free_port());
  const std::string bus_sub = "tcp://127.0.0.1:" + std::to_string(free_port());
  process::SpawnOptions options;
  options.argv = {std::string(PIER_BIN_DIR) + "/pier",
                  "dev",
                  "--state-dir",
                  dir_.path(),
                  "--bus-pub",
                  bus_pub,
                  "--bus-sub",
                  bus_sub,
                  "--metrics-listen",
                  "127.0.0.1:" + std::to_string(free_port()),
                  "--stats-port",
                  std::to_string(free_port()),
                  "--platform-network",
                  platform_network()};
  options.argv.insert(options.argv.end(), extra.begin(), extra.end());
  options.output_path = dir_.path() + "/dev.log";
  auto pid = process::spawn(options);
  if (!pid.ok()) throw std::runtime_error(pid.status().message());
  dev_ = *pid;
  // pier dev makes its keys in <state>/keys (unless --insecure-bus): the CLI speaks as its operator.
  env_ = {{"PIER_BUS_PUB", bus_pub},
          {"PIER_BUS_SUB", bus_sub},
          {"PIER_CURVE_SECRET", dir_.path() + "/keys/operator.key"},
          {"PIER_BUS_PUBLIC_KEY", dir_.path() + "/keys/bus.pub"},
          {"PIER_KEYS_DIR", dir_.path() + "/keys"}};
  if (std::find(extra.begin(), extra.end(), "--insecure-bus") != extra.end())
    for (const char* name : {"PIER_CURVE_SECRET", "PIER_BUS_PUBLIC_KEY", "PIER_KEYS_DIR"}) env_.erase(name);
}

Stack::~Stack() {
  if (dev_ > 0) {
    ::kill(dev_, SIGINT);
    process::stop(dev_, 20000);
  }
  if (::getenv("PIER_E2E_KEEP") != nullptr) dir_.keep();
}

CommandResult Stack::pier(const std::vector<std::string>& args, int timeout_s) const {
  static std::atomic<int> counter = 0;  // tests run commands from several threads
  const std::string out = dir_.path() + "/cli-" + std::to_string(++counter) + ".out";
  process::SpawnOptions options;
  options.argv = {std::string(PIER_BIN_DIR) + "/pier"};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.env = env_;
  options.output_path = out;
  options.error_path = out + ".err";
  CommandResult result;
  auto pid = process::spawn(options);
  if (!pid.ok()) return result;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  std::optional<int> code;
  while (!(code = process::try_wait(*pid)) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  result.exit_code = code ? *code : process::stop(*pid, 1000);
  result.output = read_file(out);
  result.error = read_file(out + ".err");
  return result;
}

nlohmann::json Stack::ps() const {
  auto r = pier({"ps", "--output", "json"}, 30);
  if (r.exit_code != 0) return nlohmann::json();
  return nlohmann::json::parse(r.output, nullptr, false);
}

nlohmann::json Stack::hosts() const {
  auto r = pier({"hosts", "--output", "json"}, 30);
  if (r.exit_code != 0) return nlohmann::json();
  return nlohmann::json::parse(r.output, nullptr, false);
}

bool Stack::wait_for_hosts(std::size_t count) const {
  return wait_until(
      [&] {
        const auto h = hosts();
        if (!h.is_array() || h.size() != count) return false;
        for (const auto& host : h)
          if (host.value("status", "") != "up") return false;
        return true;
      },
      std::chrono::seconds(30));
}

pid_t Stack::child_pid(const std::string& name) const { return read_pid(dir_.path() + "/pids/" + name + ".pid"); }

std::string Stack::log(const std::string& name) const { return read_file(dir_.path() + "/logs/" + name + ".log"); }

}  // namespace pier::e2e

namespace pier::e2e {

std::string Stack::dev_output() const { return read_file(dir_.path() + "/dev.log"); }

std::string Stack::dev_env(const std::string& name) const {
  std::istringstream lines(read_file(dir_.path() + "/dev.env"));
  std::string line;
  while (std::getline(lines, line))
    if (line.rfind(name + "=", 0) == 0) return line.substr(name.size() + 1);
  return {};
}

bus::Endpoints Stack::bus_endpoints() const {
  bus::Endpoints e;
  e.pub = dev_env("PIER_BUS_PUB");
  e.sub = dev_env("PIER_BUS_SUB");
  if (!dev_env("PIER_CURVE_SECRET").empty()) {
    auto op = keys::read_secret_file(dev_env("PIER_CURVE_SECRET"));
    auto server = keys::read_public_key(dev_env("PIER_BUS_PUBLIC_KEY"));
    if (op.ok() && server.ok()) e.curve = bus::CurveKeys{op->public_key, op->secret_key, *server};
  }
  return e;
}

SecondHost::SecondHost(const Stack& stack, std::string dir) : dir_(std::move(dir)), stats_port_(free_port()) {
  argv_ = {std::string(PIER_BIN_DIR) + "/pier-agent",
           "--host-id",
           "second",
           "--address",
           "127.0.0.2",
           "--state-dir",
           dir_,
           "--runtime",
           "exec",
           "--stats-port",
           std::to_string(stats_port_),
           "--bus-pub",
           stack.dev_env("PIER_BUS_PUB"),
           "--bus-sub",
           stack.dev_env("PIER_BUS_SUB"),
           "--stop-on-exit"};
  // On a secured stack the second host joins as an operator would: pier hosts add (its key, the
  // allowlist, SIGHUP to the bus). A key made by an earlier SecondHost of this stack is kept.
  const std::string keys = stack.dev_env("PIER_KEYS_DIR");
  if (!keys.empty()) {
    stack.pier({"hosts", "add", "second"}, 30);
    argv_.insert(argv_.end() - 1, {"--curve-secret", keys + "/second.key", "--bus-public-key", keys + "/bus.pub"});
  }
}

SecondHost::~SecondHost() {
  if (pid_ > 0) {
    ::kill(pid_, SIGCONT);  // a test that failed while the agent was stopped
    ::kill(pid_, SIGINT);
    process::stop(pid_, 15000);
  }
  kill_instances_and_haproxy();
}

bool SecondHost::start() {
  process::SpawnOptions options;
  options.argv = argv_;
  const char* path = std::getenv("PATH");
  options.env = {{"PATH", std::string(PIER_BIN_DIR) + ":" + (path ? path : "/usr/bin:/bin")}};
  options.output_path = dir_ + ".log." + std::to_string(++starts_);
  auto pid = process::spawn(options);
  pid_ = pid.ok() ? *pid : 0;
  return pid_ > 0;
}

void SecondHost::kill_everything() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    process::wait(pid_);
    pid_ = 0;
  }
  kill_instances_and_haproxy();
}

std::string SecondHost::log() const { return read_file(dir_ + ".log." + std::to_string(starts_)); }

void SecondHost::kill_instances_and_haproxy() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_ + "/instances", ec)) {
    if (entry.path().extension() != ".pid") continue;
    const pid_t pid = read_pid(entry.path());
    if (pid <= 0 || !process::exists(pid)) continue;
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    ++killed_instances_;
  }
  const pid_t haproxy = read_pid(dir_ + "/haproxy/haproxy.pid");
  if (haproxy > 0 && process::exists(haproxy)) {
    ::kill(-haproxy, SIGKILL);  // master and workers share its process group
    ::kill(haproxy, SIGKILL);
  }
}

}  // namespace pier::e2e
