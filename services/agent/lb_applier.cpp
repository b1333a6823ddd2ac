#include "services/agent/lb_applier.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "common/codec.h"
#include "common/process.h"
#include "services/agent/exec_runtime.h"
#include "services/agent/haproxy_stats.h"
#include "services/agent/proc_stats.h"
#include "services/agent/request_log.h"

namespace pier::agent {
namespace fs = std::filesystem;
namespace {

std::vector<std::string> server_names(const msg::LbSpec& spec) {
  std::set<std::string> names;
  for (const auto& backend : spec.backends)
    for (const auto& server : backend.servers) names.insert(server.name);
  return {names.begin(), names.end()};
}

struct AddedServer {
  std::string backend;
  std::string name;
  std::string app;
};

// The servers of `next` that `running` (when known) does not run at the same address and port.
std::vector<AddedServer> added_servers(const std::optional<msg::LbSpec>& running, const msg::LbSpec& next) {
  std::set<std::string> known;  // "backend/name address:port"
  auto key = [](const msg::LbBackend& b, const msg::LbServer& s) {
    return b.name + "/" + s.name + " " + s.address + ":" + std::to_string(s.port);
  };
  if (running)
    for (const auto& backend : running->backends)
      for (const auto& server : backend.servers) known.insert(key(backend, server));
  std::vector<AddedServer> out;
  for (const auto& backend : next.backends)
    for (const auto& server : backend.servers)
      if (!known.count(key(backend, server))) out.push_back({backend.name, server.name, backend.app});
  return out;
}

// One line per server that serves from now on (`how`: runtime API, reload, start): the end of the
// path from "instance running" to "HAProxy routes to it" that bench/lb-latency measures.
void log_serving(const std::vector<AddedServer>& added, const char* how, const msg::LbConfig& config) {
  for (const auto& s : added)
    spdlog::info("instance {} of app {} serving in haproxy backend {} ({}, config {}, state revision {})", s.name,
                 s.app, s.backend, how, config.hash, config.state_revision);
}

// Logs each server an update added that HAProxy now reports serving, and warns of any that is not.
void report_added_at_runtime(const HaproxyRuntimeApi& api, const std::vector<AddedServer>& added,
                             const msg::LbConfig& config) {
  // Asked, not assumed: what the worker that runs now says of each new server.
  std::map<std::string, std::vector<ServerState>> states;  // by backend
  std::vector<AddedServer> serving;
  for (const auto& server : added) {
    if (!states.count(server.backend)) {
      auto answer = api.send("show servers state " + server.backend);
      states[server.backend] = answer.ok() ? parse_server_states(*answer) : std::vector<ServerState>{};
    }
    const auto& list = states[server.backend];
    const auto it = std::find_if(list.begin(), list.end(), [&](const ServerState& s) { return s.name == server.name; });
    if (it != list.end() && it->serving()) {
      serving.push_back(server);
    } else {
      spdlog::warn("instance {} of app {} added to haproxy backend {} but not serving (op state {}, admin state {})",
                   server.name, server.app, server.backend, it == list.end() ? -1 : it->op_state,
                   it == list.end() ? -1 : it->admin_state);
    }
  }
  log_serving(serving, "runtime API", config);
}

// The lines of haproxy's output that explain a refusal ([ALERT] first), in one line of bounded size.
std::string explain(const std::string& output) {
  std::istringstream lines(output);
  std::string line, alerts, all;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    if (line.find("[ALERT]") != std::string::npos) alerts += (alerts.empty() ? "" : " | ") + line;
    all += (all.empty() ? "" : " | ") + line;
  }
  std::string text = alerts.empty() ? all : alerts;
  if (text.size() > 1000) text = text.substr(0, 1000) + "...";
  return text.empty() ? "haproxy -c refused the configuration" : text;
}

}  // namespace

bool is_haproxy_for(pid_t pid, const std::string& config_path) {
  if (pid <= 0 || !process::exists(pid)) return false;
  std::string cmdline = read_text("/proc/" + std::to_string(pid) + "/cmdline");
  std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
  return cmdline.find("haproxy") != std::string::npos && cmdline.find(config_path) != std::string::npos;
}

LbApplier::LbApplier(LbApplierOptions options, const Clock& clock) : options_(std::move(options)), clock_(clock) {
  fs::create_directories(options_.dir);
  pid_t pid = 0;
  std::ifstream(pid_path()) >> pid;
  if (is_haproxy_for(pid, config_path())) {
    master_ = pid;
    adopted_ = true;
    auto saved = codec::decode<msg::LbStatus>(read_text(options_.dir + "/lb-status"));
    if (saved.ok()) status_ = *saved;
    auto spec = codec::decode<msg::LbSpec>(read_text(spec_path()));
    if (spec.ok() && saved.ok()) running_spec_ = *spec;
    // Reload once, so that what runs is haproxy.cfg as saved (a reload the previous agent sent may
    // not have finished when it died).
    const auto offset = log_size();
    ::kill(master_, SIGUSR2);
    if (Status s = wait_loaded(offset, true); !s.ok())
      status_.error = "reload of the adopted haproxy failed: " + s.message();
    spdlog::info("adopted haproxy master pid {} and reloaded it (config {}, {} servers){}", pid, status_.hash,
                 status_.servers.size(), status_.error.empty() ? "" : ": " + status_.error);
  }
}

void LbApplier::save_status() const {
  const std::string path = options_.dir + "/lb-status";
  {
    std::ofstream out(path + ".tmp", std::ios::binary);
    out << codec::encode(status_);
  }
  std::error_code ec;
  fs::rename(path + ".tmp", path, ec);
}

void LbApplier::set_running_spec(const msg::LbSpec* spec) {
  std::error_code ec;
  if (spec == nullptr) {
    running_spec_.reset();
    fs::remove(spec_path(), ec);
    return;
  }
  running_spec_ = *spec;
  {
    std::ofstream out(spec_path() + ".tmp", std::ios::binary);
    out << codec::encode(*spec);
  }
  fs::rename(spec_path() + ".tmp", spec_path(), ec);
}

std::string LbApplier::config_text(const msg::LbConfig& config) const {
  return with_request_log(config.haproxy_cfg, options_.request_log_socket, frontends_to_log(config.spec));
}

Status LbApplier::run_command(const HaproxyRuntimeApi& api, const RuntimeCommand& command) {
  auto answer = api.send(command.line);
  if (!answer.ok()) return answer.status();
  if (answer_ok(command, *answer)) return Status::Ok();
  // `del server` is refused while connections are attached (a request still being answered, idle
  // ones in the pool). The server is in maintenance already, so it takes no new request: it is
  // deleted later, from tick(), once they are gone. The agent stops the instance only after that.
  if (command.retry_busy && answer->find("connection") != std::string::npos) {
    pending_deletes_.push_back(command.line);
    return Status::Ok();
  }
  std::string text = *answer;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  std::replace(text.begin(), text.end(), '\n', ' ');
  return Status::Error("'" + command.line + "' answered '" + text.substr(0, 300) + "'");
}

bool LbApplier::retry_pending_deletes() {
  if (pending_deletes_.empty() || master_ <= 0 || !running_spec_) return false;
  const int64_t now = clock_.steady_ms();
  if (now < next_delete_try_ms_) return false;
  next_delete_try_ms_ = now + options_.del_server_retry_ms;
  const HaproxyRuntimeApi api(running_spec_->stats_socket);
  const auto before = pending_deletes_.size();
  std::erase_if(pending_deletes_, [&](const std::string& line) {
    auto answer = api.send(line);
    if (!answer.ok()) return false;
    const bool gone =
        answer->find("Server deleted") != std::string::npos || answer->find("No such server") != std::string::npos;
    if (gone) spdlog::info("haproxy: '{}' done once its connections ended", line);
    return gone;
  });
  return pending_deletes_.size() != before;
}

bool LbApplier::apply_at_runtime(const msg::LbConfig& config) {
  if (!options_.runtime_api || !running_spec_) return false;
  const LbUpdate update = plan_lb_update(*running_spec_, config.spec);
  if (update.reload) {
    spdlog::info("haproxy config {} (state revision {}) needs a reload: {}", config.hash, config.state_revision,
                 update.reason);
    return false;
  }
  if (update.commands.empty()) {
    // Same servers, yet another text (a new template, say): only a reload applies it.
    spdlog::info("haproxy config {} (state revision {}) changes no server: reloading", config.hash,
                 config.state_revision);
    return false;
  }
  if (!same_outside_servers(read_text(config_path()), config_text(config))) {
    spdlog::info("haproxy config {} (state revision {}) changes more than server lines: reloading", config.hash,
                 config.state_revision);
    return false;
  }
  const auto started = std::chrono::steady_clock::now();
  const HaproxyRuntimeApi api(running_spec_->stats_socket);
  for (const auto& command : update.commands) {
    if (Status s = run_command(api, command); !s.ok()) {
      spdlog::warn("haproxy runtime update to config {} (state revision {}) failed, reloading instead: {}", config.hash,
                   config.state_revision, s.message());
      return false;
    }
  }
  const std::vector<AddedServer> added = added_servers(running_spec_, config.spec);
  report_added_at_runtime(api, added, config);
  if (!added.empty() && options_.settle_reload_ms > 0) settle_at_ms_ = clock_.steady_ms() + options_.settle_reload_ms;
  // What runs now is the new config: keep the file true to it for a later restart or reload.
  const std::string next = config_path() + ".new";
  std::error_code ec;
  {
    std::ofstream out(next, std::ios::binary | std::ios::trunc);
    out << config_text(config);
    if (!out) ec = std::make_error_code(std::errc::io_error);
  }
  if (!ec) fs::rename(next, config_path(), ec);
  if (ec) {
    // HAProxy runs the new servers but the file says otherwise: a reload puts both in line.
    spdlog::error("cannot write {} after a runtime update ({}): reloading", config_path(), ec.message());
    return false;
  }
  ++status_.runtime_updates;
  status_.hash = config.hash;
  status_.state_revision = config.state_revision;
  status_.servers = server_names(config.spec);
  status_.error.clear();
  refused_hash_.clear();
  set_running_spec(&config.spec);
  save_status();
  const auto took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
  spdlog::info(
      "haproxy config {} applied without reload (state revision {}, {} runtime commands in {:.1f} ms): "
      "servers [{}]",
      config.hash, config.state_revision, update.commands.size(), static_cast<double>(took.count()) / 1000.0,
      fmt::join(status_.servers, ", "));
  return true;
}

Status LbApplier::check(const std::string& path) {
  const std::string out = options_.dir + "/haproxy.check.log";
  std::error_code ec;
  fs::remove(out, ec);
  process::SpawnOptions spawn;
  spawn.argv = {options_.haproxy, "-c", "-f", path};
  spawn.output_path = out;
  auto pid = process::spawn(spawn);
  if (!pid.ok()) return Status::Error("cannot run " + options_.haproxy + ": " + pid.status().message());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.check_timeout_ms);
  std::optional<int> code;
  while (!(code = process::try_wait(*pid)) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (!code) {
    process::stop(*pid, 500);
    return Status::Error("haproxy -c did not finish within " + std::to_string(options_.check_timeout_ms) + " ms");
  }
  if (*code == 0) return Status::Ok();
  return Status::Error(explain(read_text(out)));
}

std::uintmax_t LbApplier::log_size() const {
  std::error_code ec;
  const auto size = fs::file_size(log_path(), ec);
  return ec ? 0 : size;
}

// The master prints "Loading success." once its new worker runs the new config (or "Loading
// failure!"). A SIGUSR2 that lands while it is still loading (or just after, before its master loop
// runs) is lost: so every reload waits for its load, and a reload not seen within a second is asked
// for again.
Status LbApplier::wait_loaded(std::uintmax_t offset, bool reloading) {
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::milliseconds(options_.load_timeout_ms);
  auto resend_at = start + std::chrono::seconds(1);
  while (true) {
    std::ifstream in(log_path(), std::ios::binary);
    in.seekg(static_cast<std::streamoff>(offset));
    std::ostringstream text;
    text << in.rdbuf();
    const std::string output = text.str();
    if (output.find("Loading success") != std::string::npos) return Status::Ok();
    if (output.find("Loading failure") != std::string::npos) return Status::Error(explain(output));
    if (!master_alive()) return Status::Error("haproxy exited: " + explain(output));
    if (std::chrono::steady_clock::now() >= deadline)
      return Status::Error("haproxy did not finish loading within " + std::to_string(options_.load_timeout_ms) + " ms");
    if (reloading && output.find("Reloading HAProxy") == std::string::npos &&
        std::chrono::steady_clock::now() >= resend_at) {
      ::kill(master_, SIGUSR2);
      resend_at = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Status LbApplier::start_master() {
  pending_deletes_.clear();  // a new master runs the file, where those servers are gone already
  std::error_code ec;
  fs::remove(pid_path(), ec);
  process::SpawnOptions spawn;
  spawn.argv = {options_.haproxy, "-W", "-f", config_path(), "-p", pid_path()};
  spawn.output_path = log_path();
  spawn.new_process_group = true;
  const auto offset = log_size();
  auto pid = process::spawn(spawn);
  if (!pid.ok()) return pid.status();
  master_ = *pid;
  adopted_ = false;
  // A master that cannot bind its ports (or lacks file descriptors) exits now: report it now.
  if (Status s = wait_loaded(offset, false); !s.ok()) {
    if (master_alive()) process::stop(master_, options_.stop_grace_ms);
    ::kill(-*pid, SIGKILL);
    master_ = 0;
    return s;
  }
  if (fs::file_size(pid_path(), ec) == 0 || ec) std::ofstream(pid_path()) << master_ << "\n";
  spdlog::info("haproxy started (master pid {}, {})", master_, config_path());
  return Status::Ok();
}

bool LbApplier::master_alive() {
  if (master_ <= 0) return false;
  if (adopted_) {
    // Not our child: alive while it exists and is no zombie. (Its command line is checked once, at
    // adoption; while it re-executes itself for a reload, /proc may briefly show none.)
    if (!process::exists(master_)) return false;
    const std::string stat = read_text("/proc/" + std::to_string(master_) + "/stat");
    const auto close = stat.rfind(')');
    return close == std::string::npos || close + 2 >= stat.size() || stat[close + 2] != 'Z';
  }
  return !process::try_wait(master_).has_value();
}

bool LbApplier::apply(const msg::LbConfig& config) {
  const bool running = master_alive();
  if (config.hash == status_.hash && running) return false;
  if (config.hash == refused_hash_) return false;
  if (running && apply_at_runtime(config)) return true;
  const std::string next = config_path() + ".new";
  {
    std::ofstream out(next, std::ios::binary | std::ios::trunc);
    out << config_text(config);
    if (!out) {
      status_.error = "cannot write " + next;
      return true;
    }
  }
  if (Status s = check(next); !s.ok()) {
    refused_hash_ = config.hash;
    status_.error = s.message();
    spdlog::error("haproxy config {} (state revision {}) refused, keeping {}: {}", config.hash, config.state_revision,
                  status_.hash.empty() ? "none" : status_.hash, s.message());
    save_status();
    return true;
  }
  std::error_code ec;
  fs::rename(next, config_path(), ec);
  if (ec) {
    status_.error = "cannot rename " + next + ": " + ec.message();
    return true;
  }
  refused_hash_.clear();
  const std::vector<AddedServer> added = added_servers(running ? running_spec_ : std::nullopt, config.spec);
  if (running) {
    if (Status s = reload(); !s.ok()) {
      // The master keeps its previous workers when a reload fails: report what still runs.
      refused_hash_ = config.hash;
      status_.error = "reload failed: " + s.message();
      spdlog::error("haproxy reload with config {} (state revision {}) failed: {}", config.hash, config.state_revision,
                    s.message());
      save_status();
      return true;
    }
    spdlog::info("haproxy reloaded with config {} (state revision {}, {} servers, master pid {})", config.hash,
                 config.state_revision, server_names(config.spec).size(), master_);
    // The new worker runs the config: servers of a freshly loaded config start UP.
    log_serving(added, "reload", config);
  } else if (Status s = start_master(); !s.ok()) {
    status_.error = s.message();
    restart_at_ms_ = clock_.steady_ms() + options_.restart_backoff_ms;
    spdlog::error("haproxy did not start with config {} (state revision {}): {}", config.hash, config.state_revision,
                  s.message());
    status_.hash.clear();  // nothing runs: apply the next config even when it is the same
    status_.servers.clear();
    set_running_spec(nullptr);
    save_status();
    return true;
  } else {
    log_serving(added, "start", config);
  }
  status_.hash = config.hash;
  status_.state_revision = config.state_revision;
  status_.servers = server_names(config.spec);
  status_.error.clear();
  set_running_spec(&config.spec);
  save_status();
  spdlog::info("haproxy config {} applied (state revision {}): servers [{}]", config.hash, config.state_revision,
               fmt::join(status_.servers, ", "));
  return true;
}

Status LbApplier::reload() {
  const auto offset = log_size();
  pending_deletes_.clear();  // the new workers run the file, without those servers; the old ones finish
  settle_at_ms_ = -1;        // and with every option of the file's servers
  ::kill(master_, SIGUSR2);
  ++status_.reloads;
  return wait_loaded(offset, true);
}

bool LbApplier::settle() {
  if (settle_at_ms_ < 0 || clock_.steady_ms() < settle_at_ms_ || !master_alive()) return false;
  if (Status s = reload(); !s.ok()) {
    // The previous workers keep running the same servers: nothing is lost but tcp-ut.
    spdlog::warn("haproxy reload for the servers added at run time failed: {}", s.message());
  } else {
    spdlog::info("haproxy reloaded (config {} unchanged) so that the servers added at run time get the file's options",
                 status_.hash);
  }
  save_status();
  return true;
}

bool LbApplier::refresh_servers_up() {
  const int64_t now = clock_.steady_ms();
  if (master_ <= 0 || now < next_servers_up_ms_) return false;
  next_servers_up_ms_ = now + options_.servers_up_ms;
  const HaproxyRuntimeApi api(running_spec_ ? running_spec_->stats_socket : socket_path(), 500);
  auto csv = api.send("show stat -1 4 -1");
  if (!csv.ok()) return false;  // a reload in progress: the next reading tells
  auto rows = parse_show_stat(*csv);
  if (!rows.ok()) return false;
  std::vector<std::string> up = servers_up(*rows, status_.servers_up);
  if (up == status_.servers_up && status_.reports_servers_up) return false;
  status_.servers_up = std::move(up);
  status_.reports_servers_up = true;
  return true;
}

bool LbApplier::tick() {
  retry_pending_deletes();
  bool checks_changed = refresh_servers_up();
  checks_changed = settle() || checks_changed;
  if (master_ > 0 && !master_alive()) {
    spdlog::error("haproxy master pid {} is gone (last output: {})", master_, last_line(log_path()));
    master_ = 0;
    adopted_ = false;
    restart_at_ms_ = clock_.steady_ms() + options_.restart_backoff_ms;
  }
  if (master_ > 0 || restart_at_ms_ < 0 || clock_.steady_ms() < restart_at_ms_ || !fs::exists(config_path()))
    return checks_changed;
  restart_at_ms_ = -1;
  const msg::LbStatus before = status_;
  if (Status s = start_master(); !s.ok()) {
    status_.error = s.message();
    restart_at_ms_ = clock_.steady_ms() + options_.restart_backoff_ms;
    spdlog::error("haproxy restart failed: {}", s.message());
  } else if (status_.error.rfind("haproxy exited", 0) == 0) {
    status_.error.clear();
  }
  return checks_changed || codec::encode(before) != codec::encode(status_);
}

void LbApplier::stop() {
  if (master_ <= 0) return;
  if (!adopted_) {
    process::stop(master_, options_.stop_grace_ms);
  } else {
    ::kill(master_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.stop_grace_ms);
    while (master_alive() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (master_alive()) ::kill(master_, SIGKILL);
  }
  // Workers go with their master; anything left in its group goes now.
  ::kill(-master_, SIGKILL);
  spdlog::info("haproxy stopped (master pid {})", master_);
  master_ = 0;
  std::error_code ec;
  fs::remove(pid_path(), ec);
}

}  // namespace pier::agent
