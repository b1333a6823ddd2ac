#include "tests/fleet/fleet.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <iostream>
#include <regex>
#include <stdexcept>
#include <thread>

#include "common/process.h"

#ifndef PIER_BIN_DIR
#define PIER_BIN_DIR ""
#endif

namespace pier::fleet {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const char* ip_program() {
  for (const char* path : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"})
    if (::access(path, X_OK) == 0) return path;
  return "ip";
}

// Runs argv to completion (killed after timeout_ms); stdout and stderr kept apart in files named after
// out_base (a temporary name when empty), removed once read.
CommandResult run(const std::vector<std::string>& argv, int timeout_ms, const std::map<std::string, std::string>& env,
                  const std::string& out_base) {
  static std::atomic<int> counter = 0;
  std::string base = out_base;
  if (base.empty()) {
    char tmpl[] = "/tmp/pier-fleet-cmd-XXXXXX";
    const int fd = ::mkstemp(tmpl);
    if (fd >= 0) ::close(fd);
    base = tmpl;
    ::unlink(tmpl);
  }
  base += "." + std::to_string(++counter);
  process::SpawnOptions options;
  options.argv = argv;
  options.env = env;
  options.output_path = base + ".out";
  options.error_path = base + ".err";
  CommandResult result;
  auto pid = process::spawn(options);
  if (!pid.ok()) {
    result.error = pid.status().message();
    return result;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::optional<int> code;
  while (!(code = process::try_wait(*pid)) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  result.exit_code = code ? *code : process::stop(*pid, 1000);
  result.output = e2e::read_file(options.output_path);
  result.error = e2e::read_file(options.error_path);
  ::unlink(options.output_path.c_str());
  ::unlink(options.error_path.c_str());
  return result;
}

std::string joined(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& a : argv) text += (text.empty() ? "" : " ") + a;
  return text;
}

// Pids whose network namespace is the one bound at /run/netns/<name>, this process left out.
std::vector<pid_t> pids_in_ns(const std::string& name) {
  std::vector<pid_t> pids;
  struct stat target {};
  if (::stat(("/run/netns/" + name).c_str(), &target) != 0) return pids;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string pid = entry.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    struct stat ns {};
    if (::stat(("/proc/" + pid + "/ns/net").c_str(), &ns) != 0) continue;
    if (ns.st_dev == target.st_dev && ns.st_ino == target.st_ino) {
      const pid_t p = std::stoi(pid);
      if (p != ::getpid()) pids.push_back(p);
    }
  }
  return pids;
}

// SIGKILLs everything in a namespace until nothing is left (5 s at most); returns how many were killed.
int kill_in_ns(const std::string& name, std::vector<pid_t>* children) {
  std::set<pid_t> killed;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto pids = pids_in_ns(name);
    if (pids.empty()) break;
    for (pid_t pid : pids) {
      ::kill(pid, SIGKILL);
      killed.insert(pid);
    }
    if (children != nullptr)
      for (pid_t child : *children) process::try_wait(child);
    std::this_thread::sleep_for(20ms);
  }
  return static_cast<int>(killed.size());
}

bool environ_has(pid_t pid, const std::string& wanted) {
  const std::string environ = e2e::read_file("/proc/" + std::to_string(pid) + "/environ");
  std::size_t start = 0;
  while (start < environ.size()) {
    std::size_t end = environ.find('\0', start);
    if (end == std::string::npos) end = environ.size();
    if (environ.compare(start, end - start, wanted) == 0) return true;
    start = end + 1;
  }
  return false;
}

const std::vector<std::string> kRoles = {"lan1", "lan2", "router", "control", "h1", "h2", "h3", "client", "client2"};

}  // namespace

const std::vector<std::string>& host_ids() {
  static const std::vector<std::string> ids = {"h1", "h2", "h3"};
  return ids;
}

std::string address_of(const std::string& role) {
  static const std::map<std::string, std::string> plan = {
      {"router", kRouterLan1}, {"control", kControlAddress}, {"h1", "10.77.1.11"},        {"h2", "10.77.1.12"},
      {"h3", "10.77.2.13"},    {"client", kClientAddress},   {"client2", kClient2Address}};
  auto it = plan.find(role);
  return it == plan.end() ? "" : it->second;
}

std::string lan_of(const std::string& role) { return role == "h3" ? "lan2" : "lan1"; }

nlohmann::json host_record(const nlohmann::json& hosts, const std::string& id) {
  if (hosts.is_array())
    for (const auto& h : hosts)
      if (h.value("id", "") == id) return h;
  return nullptr;
}

nlohmann::json lb_app(const nlohmann::json& hosts, const std::string& id, const std::string& app) {
  const auto host = host_record(hosts, id);
  if (!host.is_object() || !host.contains("lb")) return nullptr;
  for (const auto& a : host["lb"].value("apps", nlohmann::json::array()))
    if (a.value("app", "") == app) return a;
  return nullptr;
}

bool peers_reachable(const nlohmann::json& hosts, const std::vector<std::string>& ids) {
  for (const auto& id : ids) {
    const auto host = host_record(hosts, id);
    if (!host.is_object() || !host.contains("peers") || !host["peers"].is_array()) return false;
    for (const auto& other : ids) {
      if (other == id) continue;
      bool reachable = false;
      for (const auto& p : host["peers"])
        if (p.value("host", "") == other) reachable = p.value("reachable", false);
      if (!reachable) return false;
    }
  }
  return true;
}

std::map<std::string, std::string> instance_ips(const nlohmann::json& ps, const std::string& app) {
  std::map<std::string, std::string> ips;
  if (ps.is_array())
    for (const auto& i : ps)
      if (i.value("app", "") == app && i.value("state", "") != "draining") ips[i.value("id", "")] = i.value("ip", "");
  return ips;
}

bool in_subnet(const std::string& ip, const std::string& cidr) {
  const auto slash = cidr.find('/');
  if (slash == std::string::npos) return false;
  in_addr a{}, net{};
  if (::inet_pton(AF_INET, ip.c_str(), &a) != 1 || ::inet_pton(AF_INET, cidr.substr(0, slash).c_str(), &net) != 1)
    return false;
  const int bits = std::atoi(cidr.c_str() + slash + 1);
  const uint32_t mask = bits <= 0 ? 0 : (bits >= 32 ? 0xffffffffu : ~((1u << (32 - bits)) - 1));
  return (ntohl(a.s_addr) & mask) == (ntohl(net.s_addr) & mask);
}

std::set<std::string> running_on(const nlohmann::json& ps, const std::string& app, const std::string& host) {
  std::set<std::string> ids;
  if (ps.is_array())
    for (const auto& i : ps)
      if (i.value("app", "") == app && i.value("host", "") == host && i.value("state", "") == "running")
        ids.insert(i.value("id", ""));
  return ids;
}

std::string instance_in(const std::string& body) {
  const auto start = body.find("instance=");
  if (start == std::string::npos) return "";
  const auto end = body.find_first_of(" \n\r", start);
  return body.substr(start + 9, end == std::string::npos ? std::string::npos : end - start - 9);
}

void report(const std::string& line) { std::cout << "[ fleet ] " << line << std::endl; }

// ---------------------------------------------------------------------------------------------
// Namespaces and links.

void Fleet::remove_stale() {
  static const std::regex owned("^pf([0-9]+)-");
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/run/netns", ec)) {
    const std::string name = entry.path().filename();
    std::smatch m;
    if (!std::regex_search(name, m, owned)) continue;
    const pid_t owner = std::stoi(m[1]);
    if (owner == ::getpid() || process::exists(owner)) continue;
    const int killed = kill_in_ns(name, nullptr);
    run({ip_program(), "netns", "del", name}, 10'000, {}, "");
    std::cerr << "fleet: removed stale namespace " << name << " (" << killed << " processes)\n";
  }
  static const std::regex folder("^pier-fleet-([0-9]+)-");
  for (const auto& entry : fs::directory_iterator("/tmp", ec)) {
    const std::string name = entry.path().filename();
    std::smatch m;
    if (!std::regex_search(name, m, folder)) continue;
    const pid_t owner = std::stoi(m[1]);
    if (owner == ::getpid() || process::exists(owner)) continue;
    fs::remove_all(entry.path(), ec);
  }
}

Result<std::unique_ptr<Fleet>> Fleet::create() {
  remove_stale();
  std::unique_ptr<Fleet> fleet(new Fleet());
  if (Status s = fleet->build(); !s.ok()) return s;  // the destructor removes what was made
  return fleet;
}

std::string Fleet::ns(const std::string& role) const { return prefix_ + role; }

std::string Fleet::ip(const std::string& role, const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {ip_program(), "-n", ns(role)};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run(argv, 10'000, {}, dir() + "/ip");
  if (r.exit_code != 0) throw std::runtime_error(joined(argv) + ": " + r.error);
  return r.output;
}

Status Fleet::build() {
  static std::atomic<int> fleets = 0;
  prefix_ = "pf" + std::to_string(::getpid()) + "-" + std::to_string(++fleets) + "-";
  try {
    dir_.emplace("pier-fleet-" + std::to_string(::getpid()) + "-");  // the name remove_stale knows
    fs::create_directories(dir() + "/logs");
    for (const auto& role : kRoles) {
      auto r = run({ip_program(), "netns", "add", ns(role)}, 10'000, {}, dir() + "/ip");
      if (r.exit_code != 0) return Status::Error("ip netns add " + ns(role) + ": " + r.error);
      made_.push_back(ns(role));
      ip(role, {"link", "set", "dev", "lo", "up"});
    }
    for (const std::string lan : {"lan1", "lan2"}) {
      ip(lan, {"link", "add", "br0", "type", "bridge"});
      ip(lan, {"link", "set", "dev", "br0", "up"});
    }
    // A leg of `role` (device `dev`, address `cidr`) on a LAN's bridge, whose port is named `port`.
    auto attach = [&](const std::string& role, const std::string& lan, const std::string& dev, const std::string& port,
                      const std::string& cidr) {
      ip(role, {"link", "add", dev, "type", "veth", "peer", "name", port, "netns", ns(lan)});
      ip(lan, {"link", "set", "dev", port, "master", "br0"});
      ip(lan, {"link", "set", "dev", port, "up"});
      ip(role, {"addr", "add", cidr, "dev", dev});
      ip(role, {"link", "set", "dev", dev, "up"});
    };
    attach("router", "lan1", "eth1", "router", std::string(kRouterLan1) + "/24");
    attach("router", "lan2", "eth2", "router", std::string(kRouterLan2) + "/24");
    for (const std::string role : {"control", "h1", "h2", "client"}) {
      attach(role, "lan1", "eth0", role, address_of(role) + "/24");
      ip(role, {"route", "add", "default", "via", kRouterLan1});
    }
    attach("h3", "lan2", "eth0", "h3", address_of("h3") + "/24");
    ip("h3", {"route", "add", "default", "via", kRouterLan2});
    // client2's own link to h2.
    ip("client2", {"link", "add", "eth0", "type", "veth", "peer", "name", "eth9", "netns", ns("h2")});
    ip("h2", {"addr", "add", std::string(kH2SideAddress) + "/30", "dev", "eth9"});
    ip("h2", {"link", "set", "dev", "eth9", "up"});
    ip("client2", {"addr", "add", std::string(kClient2Address) + "/30", "dev", "eth0"});
    ip("client2", {"link", "set", "dev", "eth0", "up"});
    ip("client2", {"route", "add", "default", "via", kH2SideAddress});
  } catch (const std::exception& e) {
    return Status::Error(e.what());
  }
  // Forwarding in the router's own namespace (sysctl inside `ip netns exec` writes that namespace's).
  auto fwd = run({ip_program(), "netns", "exec", ns("router"), "sysctl", "-qw", "net.ipv4.ip_forward=1"}, 10'000, {},
                 dir() + "/ip");
  if (fwd.exit_code != 0) return Status::Error("router: ip_forward: " + fwd.error);
  return Status::Ok();
}

Fleet::~Fleet() {
  // Hosts first (agents would otherwise restart what dies), then everything else.
  for (const auto& name : made_) kill_in_ns(name, &children_);
  for (const auto& name : made_) kill_in_ns(name, &children_);
  for (pid_t child : children_)
    if (!process::try_wait(child)) {
      ::kill(child, SIGKILL);
      process::wait(child);
    }
  for (auto it = made_.rbegin(); it != made_.rend(); ++it) run({ip_program(), "netns", "del", *it}, 10'000, {}, "");
  const char* keep = std::getenv("PIER_FLEET_KEEP");
  if (dir_ && keep != nullptr && std::string(keep) == "1") dir_->keep();
}

pid_t Fleet::run_in(const std::string& role, const std::vector<std::string>& argv, const std::string& log_path,
                    const std::map<std::string, std::string>& env) {
  process::SpawnOptions options;
  options.argv = {ip_program(), "netns", "exec", ns(role)};
  options.argv.insert(options.argv.end(), argv.begin(), argv.end());
  options.env = env;
  options.output_path = log_path;
  auto pid = process::spawn(options);
  if (!pid.ok()) return 0;
  children_.push_back(*pid);
  return *pid;
}

CommandResult Fleet::exec_in(const std::string& role, const std::vector<std::string>& argv, int timeout_ms,
                             const std::map<std::string, std::string>& env) {
  std::vector<std::string> full = {ip_program(), "netns", "exec", ns(role)};
  full.insert(full.end(), argv.begin(), argv.end());
  return run(full, timeout_ms, env, dir() + "/cmd");
}

Status Fleet::in_ns(const std::string& role, const std::function<void()>& fn) const {
  const std::string path = "/run/netns/" + ns(role);
  Status status;
  std::exception_ptr error;
  std::thread thread([&] {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      status = Status::Error("open " + path + ": " + std::strerror(errno));
      return;
    }
    const int rc = ::setns(fd, CLONE_NEWNET);
    const int saved = errno;
    ::close(fd);
    if (rc != 0) {
      status = Status::Error("setns " + path + ": " + std::strerror(saved));
      return;
    }
    try {
      fn();
    } catch (...) {
      error = std::current_exception();
    }
  });
  thread.join();
  if (error) std::rethrow_exception(error);
  return status;
}

std::vector<pid_t> Fleet::pids_in(const std::string& role) const { return pids_in_ns(ns(role)); }

int Fleet::processes_of_app(const std::string& role, const std::string& app) const {
  int count = 0;
  for (pid_t pid : pids_in(role))
    if (environ_has(pid, "PIER_APP=" + app)) ++count;
  return count;
}

void Fleet::cut_link(const std::string& host) { ip(lan_of(host), {"link", "set", "dev", host, "down"}); }

void Fleet::heal_link(const std::string& host) { ip(lan_of(host), {"link", "set", "dev", host, "up"}); }

int Fleet::kill_host(const std::string& host) {
  const int killed = kill_in_ns(ns(host), &children_);
  if (auto it = agents_.find(host); it != agents_.end()) {
    process::try_wait(it->second);
    agents_.erase(it);
  }
  return killed;
}

// ---------------------------------------------------------------------------------------------
// pier.

std::string Fleet::bin(const std::string& program) const {
  const char* dir = std::getenv("PIER_BIN_DIR");
  return std::string(dir != nullptr && *dir != '\0' ? dir : PIER_BIN_DIR) + "/" + program;
}

std::map<std::string, std::string> Fleet::pier_env() const {
  const char* path = std::getenv("PATH");
  return {
      {"PIER_BUS_PUB", "tcp://" + std::string(kControlAddress) + ":" + std::to_string(kBusPubPort)},
      {"PIER_BUS_SUB", "tcp://" + std::string(kControlAddress) + ":" + std::to_string(kBusSubPort)},
      {"PATH", fs::path(bin("pier")).parent_path().string() + ":" + (path ? path : "/usr/sbin:/usr/bin:/sbin:/bin")}};
}

std::string Fleet::keys_dir() const { return dir() + "/keys"; }

std::vector<std::string> Fleet::keyed(std::vector<std::string> argv, const std::string& key) const {
  argv.insert(argv.end(),
              {"--curve-secret", keys_dir() + "/" + key + ".key", "--bus-public-key", keys_dir() + "/bus.pub"});
  return argv;
}

bool Fleet::start_control(const std::vector<std::string>& extra_registry) {
  const auto env = pier_env();
  const std::string pub = env.at("PIER_BUS_PUB"), sub = env.at("PIER_BUS_SUB");
  // The bus is on a network address, so it is keyed as a fleet's must be: every service, agent and the
  // CLI (as operator) with its own key, made as an operator would.
  std::vector<std::string> init = {bin("pier"), "keys", "init", "--dir", keys_dir()};
  for (const std::string& host : host_ids()) init.insert(init.end(), {"--host", host});
  if (const CommandResult made = exec_in("control", init, 30'000, env); made.exit_code != 0) {
    std::fprintf(stderr, "fleet: pier keys init: %s%s\n", made.output.c_str(), made.error.c_str());
    return false;
  }
  auto with_bus = [&](std::vector<std::string> argv, const std::string& key) {
    argv.insert(argv.end(), {"--bus-pub", pub, "--bus-sub", sub});
    return keyed(std::move(argv), key);
  };
  const std::string logs = dir() + "/logs/";
  run_in("control",
         {bin("pier-bus"), "--publishers", pub, "--subscribers", sub, "--curve-secret", keys_dir() + "/bus.key",
          "--allow", keys_dir() + "/allow"},
         logs + "bus.log", env);
  auto registry = with_bus(
      {bin("pier-registry"), "--db", dir() + "/registry.db", "--host-down-after-ms", std::to_string(kHostDownAfterMs)},
      "registry");
  registry.insert(registry.end(), extra_registry.begin(), extra_registry.end());
  run_in("control", registry, logs + "registry.log", env);
  run_in("control", with_bus({bin("pier-scheduler")}, "scheduler"), logs + "scheduler.log", env);
  run_in("control", with_bus({bin("pier-lbgen")}, "lbgen"), logs + "lbgen.log", env);
  run_in("control",
         with_bus({bin("pier-metrics"), "--db", dir() + "/metrics.db", "--listen",
                   std::string(kControlAddress) + ":" + std::to_string(kMetricsPort)},
                  "metrics"),
         logs + "metrics.log", env);
  return wait_until(
      [&] {
        return tcp_connects("client", kControlAddress, kBusPubPort, 300) &&
               tcp_connects("client", kControlAddress, kBusSubPort, 300);
      },
      15s);
}

bool Fleet::start_agent(const std::string& host, const std::string& overlay, const std::vector<std::string>& extra,
                        const std::string& runtime) {
  const auto env = pier_env();
  std::vector<std::string> argv = {bin("pier-agent"),
                                   "--host-id",
                                   host,
                                   "--address",
                                   address_of(host),
                                   "--bus-pub",
                                   env.at("PIER_BUS_PUB"),
                                   "--bus-sub",
                                   env.at("PIER_BUS_SUB"),
                                   "--state-dir",
                                   dir() + "/" + host,
                                   "--runtime",
                                   runtime,
                                   "--stats-port",
                                   std::to_string(kStatsPort)};
  argv = keyed(std::move(argv), host);
  if (!overlay.empty()) argv.insert(argv.end(), {"--overlay", overlay});
  argv.insert(argv.end(), extra.begin(), extra.end());
  const std::string log = dir() + "/logs/" + host + ".agent." + std::to_string(++agent_starts_[host]) + ".log";
  const pid_t pid = run_in(host, argv, log, {{"PATH", env.at("PATH")}});
  if (pid <= 0) return false;
  agents_[host] = pid;
  std::this_thread::sleep_for(200ms);
  return !process::try_wait(pid).has_value();  // a refused flag ends it at once
}

void Fleet::stop_agent(const std::string& host) {
  auto it = agents_.find(host);
  if (it == agents_.end()) return;
  ::kill(it->second, SIGINT);
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (!process::try_wait(it->second) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  if (process::exists(it->second)) {
    ::kill(it->second, SIGKILL);
    process::wait(it->second);
  }
  agents_.erase(it);
}

std::string Fleet::agent_log(const std::string& host) const {
  auto it = agent_starts_.find(host);
  if (it == agent_starts_.end()) return "";
  return e2e::read_file(dir() + "/logs/" + host + ".agent." + std::to_string(it->second) + ".log");
}

CommandResult Fleet::pier(const std::vector<std::string>& args, int timeout_s) {
  std::vector<std::string> argv = {bin("pier")};
  argv.insert(argv.end(), args.begin(), args.end());
  auto env = pier_env();
  env["PIER_CURVE_SECRET"] = keys_dir() + "/operator.key";
  env["PIER_BUS_PUBLIC_KEY"] = keys_dir() + "/bus.pub";
  return exec_in("control", argv, timeout_s * 1000, env);
}

nlohmann::json Fleet::ps() {
  auto r = pier({"ps", "--output", "json"}, 30);
  if (r.exit_code != 0) return nullptr;
  return nlohmann::json::parse(r.output, nullptr, false);
}

nlohmann::json Fleet::hosts() {
  auto r = pier({"hosts", "--output", "json"}, 30);
  if (r.exit_code != 0) return nullptr;
  return nlohmann::json::parse(r.output, nullptr, false);
}

bool Fleet::wait_for_hosts(const std::vector<std::string>& ids, std::chrono::milliseconds timeout) {
  return wait_until(
      [&] {
        const auto h = hosts();
        for (const auto& id : ids)
          if (e2e::host_status(h, id) != "up") return false;
        return true;
      },
      timeout);
}

// ---------------------------------------------------------------------------------------------
// Clients.

std::unique_ptr<loadgen::LoadGenerator> Fleet::start_load(const std::string& role,
                                                          const loadgen::Options& options) const {
  std::unique_ptr<loadgen::LoadGenerator> generator;
  Status s = in_ns(role, [&] {
    generator = std::make_unique<loadgen::LoadGenerator>(options);
    generator->start();  // its workers are threads of this one: they start in the namespace
  });
  if (!s.ok()) throw std::runtime_error(s.message());
  return generator;
}

std::optional<e2e::HttpAnswer> Fleet::http_get(const std::string& role, const std::string& host, int port,
                                               const std::string& path) const {
  std::optional<e2e::HttpAnswer> answer;
  in_ns(role, [&] {
    httplib::Client client(host, port);
    client.set_connection_timeout(2);
    client.set_read_timeout(5);
    if (auto res = client.Get(path.c_str())) answer = e2e::HttpAnswer{res->status, res->body};
  });
  return answer;
}

std::multiset<std::string> Fleet::answers(const std::string& role, const std::string& host, int port, int count,
                                          const std::string& path, int read_timeout_s) const {
  std::multiset<std::string> seen;
  in_ns(role, [&] {
    for (int i = 0; i < count; ++i) {
      httplib::Client client(host, port);  // a connection per request, as a new client's
      client.set_connection_timeout(2);
      client.set_read_timeout(read_timeout_s);
      auto res = client.Get(path.c_str());
      if (!res || res->status != 200) {
        seen.insert("<failed " + std::to_string(res ? res->status : 0) + ">");
        continue;
      }
      const std::string id = instance_in(res->body);
      seen.insert(id.empty() ? "<no instance>" : id);
    }
  });
  return seen;
}

namespace {

// A connected TCP socket to host:port within timeout_ms, or -1.
int connect_to(const std::string& host, int port, int timeout_ms) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    ::close(fd);
    return -1;
  }
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof err;
    if (::poll(&p, 1, timeout_ms) == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) rc = 0;
  }
  if (rc != 0) {
    ::close(fd);
    return -1;
  }
  const int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

}  // namespace

std::optional<std::string> Fleet::tcp_echo(const std::string& role, const std::string& host, int port,
                                           const std::string& text) const {
  std::optional<std::string> got;
  in_ns(role, [&] {
    const int fd = connect_to(host, port, 2000);
    if (fd < 0) return;
    timeval tv{3, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
    std::string back;
    char buf[4096];
    while (back.size() < text.size()) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      back.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    if (!back.empty()) got = back;
  });
  return got;
}

bool Fleet::tcp_connects(const std::string& role, const std::string& host, int port, int timeout_ms) const {
  bool connected = false;
  in_ns(role, [&] {
    const int fd = connect_to(host, port, timeout_ms);
    connected = fd >= 0;
    if (fd >= 0) ::close(fd);
  });
  return connected;
}

}  // namespace pier::fleet
