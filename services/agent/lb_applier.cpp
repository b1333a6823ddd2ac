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
#include "common/files.h"
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

}  // namespace

LbApplier::LbApplier(LbApplierOptions options, const Clock& clock)
    : options_(std::move(options)),
      clock_(clock),
      master_({.haproxy = options_.haproxy,
               .config_path = config_path(),
               .pid_path = pid_path(),
               .log_path = log_path(),
               .load_timeout_ms = options_.load_timeout_ms,
               .stop_grace_ms = options_.stop_grace_ms},
              clock),
      check_(options_.haproxy, options_.dir + "/haproxy.check.log", options_.check_timeout_ms, clock) {
  fs::create_directories(options_.dir);
  pid_t pid = 0;
  std::ifstream(pid_path()) >> pid;
  if (!master_.adopt(pid)) return;
  auto saved = codec::decode<msg::LbStatus>(files::read_text(options_.dir + "/lb-status"));
  if (saved.ok()) status_ = *saved;
  auto spec = codec::decode<msg::LbSpec>(files::read_text(spec_path()));
  if (spec.ok() && saved.ok()) running_spec_ = *spec;
  // Reload once, so that what runs is haproxy.cfg as saved (a reload the previous agent sent may not
  // have finished when it died).
  master_.reload();
  chore_ = Chore::adopt;
  spdlog::info("adopted haproxy master pid {} (config {}, {} servers): reloading it", pid, status_.hash,
               status_.servers.size());
}

void LbApplier::save_status() const {
  if (Status s = files::write_atomically(options_.dir + "/lb-status", codec::encode(status_)); !s.ok())
    spdlog::error("{}", s.message());
}

void LbApplier::set_running_spec(const msg::LbSpec* spec) {
  if (spec == nullptr) {
    running_spec_.reset();
    std::error_code ec;
    fs::remove(spec_path(), ec);
    return;
  }
  running_spec_ = *spec;
  if (Status s = files::write_atomically(spec_path(), codec::encode(*spec)); !s.ok()) spdlog::error("{}", s.message());
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
  if (pending_deletes_.empty() || master_.pid() <= 0 || !running_spec_) return false;
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
  const std::string text = config_text(config);
  const LbUpdate update = plan_lb_update(*running_spec_, files::read_text(config_path()), config.spec, text);
  if (update.reload) {
    spdlog::info("haproxy config {} (state revision {}) needs a reload: {}", config.hash, config.state_revision,
                 update.reason);
    return false;
  }
  const int64_t started = clock_.steady_ms();
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
  if (Status s = files::write_atomically(config_path(), text); !s.ok()) {
    // HAProxy runs the new servers but the file says otherwise: a reload puts both in line.
    spdlog::error("after a runtime update: {}; reloading", s.message());
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
  spdlog::info("haproxy config {} applied without reload (state revision {}, {} runtime commands in {} ms): {} servers",
               config.hash, config.state_revision, update.commands.size(), clock_.steady_ms() - started,
               status_.servers.size());
  return true;
}

bool LbApplier::refuse(const msg::LbConfig& config, const std::string& why) {
  if (status_.error == why) return false;
  status_.error = why;
  spdlog::error("haproxy config for state revision {} not rendered, keeping {}: {}", config.state_revision,
                status_.hash.empty() ? "none" : status_.hash, why);
  save_status();
  return true;
}

bool LbApplier::apply(const msg::LbConfig& config) {
  if (busy()) {
    // One change at a time: a config that comes while one is checked or loaded waits, newest wins.
    if (!flight_ || flight_->config.hash != config.hash)
      waiting_ = config;
    else
      waiting_.reset();
    return false;
  }
  waiting_.reset();
  const bool running = master_.alive();
  if (config.hash == status_.hash && running) return false;
  if (config.hash == refused_hash_) return false;
  if (running && apply_at_runtime(config)) return true;
  return begin(config);
}

bool LbApplier::begin(const msg::LbConfig& config) {
  const std::string next = next_config_path();
  if (Status s = files::write_atomically(next, config_text(config)); !s.ok()) {
    status_.error = s.message();
    return true;
  }
  if (Status s = check_.begin(next); !s.ok()) {
    status_.error = s.message();
    return true;
  }
  flight_ = Flight{config};  // reload or start: decided once the check passed
  return false;
}

void LbApplier::begin_reload() {
  pending_deletes_.clear();  // the new workers run the file, without those servers; the old ones finish
  settle_at_ms_ = -1;        // and with every option of the file's servers
  master_.reload();
  ++status_.reloads;
}

// The check of the config in flight, when it ended: a refusal, or the start of its load.
bool LbApplier::step_check() {
  auto checked = check_.poll();
  if (!checked) return false;
  const msg::LbConfig& config = flight_->config;
  if (!checked->ok()) {
    refused_hash_ = config.hash;
    status_.error = checked->message();
    spdlog::error("haproxy config {} (state revision {}) refused, keeping {}: {}", config.hash, config.state_revision,
                  status_.hash.empty() ? "none" : status_.hash, checked->message());
    save_status();
    flight_.reset();
    return true;
  }
  std::error_code ec;
  fs::rename(next_config_path(), config_path(), ec);
  if (ec) {
    status_.error = "cannot rename " + next_config_path() + ": " + ec.message();
    flight_.reset();
    return true;
  }
  refused_hash_.clear();
  flight_->reload = master_.alive();
  if (flight_->reload) {
    begin_reload();
  } else {
    pending_deletes_.clear();  // a new master runs the file, where those servers are gone already
    if (Status s = master_.start(); !s.ok()) {
      const msg::LbConfig failed = config;
      flight_.reset();
      return start_failed(&failed, s.message());
    }
  }
  flight_->loading = true;
  return false;
}

// A start that failed: nothing runs; try again after the backoff.
bool LbApplier::start_failed(const msg::LbConfig* config, const std::string& why) {
  status_.error = why;
  restart_at_ms_ = clock_.steady_ms() + options_.restart_backoff_ms;
  if (config == nullptr) {
    spdlog::error("haproxy restart failed: {}", why);
    return true;
  }
  spdlog::error("haproxy did not start with config {} (state revision {}): {}", config->hash, config->state_revision,
                why);
  status_.hash.clear();  // nothing runs: apply the next config even when it is the same
  status_.servers.clear();
  set_running_spec(nullptr);
  save_status();
  return true;
}

// The load of the config in flight ended with `outcome`.
bool LbApplier::loaded(const Flight& flight, const Status& outcome) {
  const msg::LbConfig& config = flight.config;
  if (!outcome.ok() && flight.reload) {
    // The master keeps its previous workers when a reload fails: report what still runs.
    refused_hash_ = config.hash;
    status_.error = "reload failed: " + outcome.message();
    spdlog::error("haproxy reload with config {} (state revision {}) failed: {}", config.hash, config.state_revision,
                  outcome.message());
    save_status();
    return true;
  }
  if (!outcome.ok()) return start_failed(&config, outcome.message());
  const std::vector<AddedServer> added = added_servers(flight.reload ? running_spec_ : std::nullopt, config.spec);
  if (flight.reload) {
    spdlog::info("haproxy reloaded with config {} (state revision {}, {} servers, master pid {})", config.hash,
                 config.state_revision, server_names(config.spec).size(), master_.pid());
  }
  // The new worker runs the config: servers of a freshly loaded config start UP.
  log_serving(added, flight.reload ? "reload" : "start", config);
  status_.hash = config.hash;
  status_.state_revision = config.state_revision;
  status_.servers = server_names(config.spec);
  status_.error.clear();
  set_running_spec(&config.spec);
  save_status();
  spdlog::info("haproxy config {} applied (state revision {}): {} servers", config.hash, config.state_revision,
               status_.servers.size());
  return true;
}

// A load the applier began for itself (adoption, settle, restart) ended with `outcome`.
bool LbApplier::chore_done(const Status& outcome) {
  const Chore chore = std::exchange(chore_, Chore::none);
  switch (chore) {
    case Chore::adopt:
      if (!outcome.ok()) status_.error = "reload of the adopted haproxy failed: " + outcome.message();
      spdlog::info("adopted haproxy master pid {} reloaded (config {}){}", master_.pid(), status_.hash,
                   outcome.ok() ? "" : ": " + outcome.message());
      return !outcome.ok();
    case Chore::settle:
      if (outcome.ok()) {
        spdlog::info(
            "haproxy reloaded (config {} unchanged) so that the servers added at run time get the file's options",
            status_.hash);
      } else {
        // The previous workers keep running the same servers: nothing is lost but tcp-ut.
        spdlog::warn("haproxy reload for the servers added at run time failed: {}", outcome.message());
      }
      save_status();
      return true;
    case Chore::restart:
      if (!outcome.ok()) return start_failed(nullptr, outcome.message());
      if (status_.error.rfind("haproxy exited", 0) == 0) {
        status_.error.clear();
        return true;
      }
      return false;
    case Chore::none:
      return false;
  }
  return false;
}

void LbApplier::settle() {
  if (settle_at_ms_ < 0 || clock_.steady_ms() < settle_at_ms_ || busy() || !master_.alive()) return;
  begin_reload();
  chore_ = Chore::settle;
}

bool LbApplier::refresh_servers_up() {
  const int64_t now = clock_.steady_ms();
  if (master_.pid() <= 0 || now < next_servers_up_ms_) return false;
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
  bool changed = false;
  if (flight_ && !flight_->loading) changed = step_check() || changed;
  if (auto outcome = master_.step()) {
    if (flight_ && flight_->loading) {
      const Flight flight = std::move(*flight_);
      flight_.reset();
      changed = loaded(flight, *outcome) || changed;
    } else {
      changed = chore_done(*outcome) || changed;
    }
  }
  if (!master_.busy()) {  // during a load the stats socket changes hands: ask once it ended
    retry_pending_deletes();
    changed = refresh_servers_up() || changed;
  }
  if (busy()) return changed;
  settle();
  if (master_.pid() > 0 && !master_.busy() && !master_.alive()) {
    spdlog::error("haproxy master pid {} is gone (last output: {})", master_.pid(), last_line(log_path()));
    master_.forget();
    restart_at_ms_ = clock_.steady_ms() + options_.restart_backoff_ms;
  }
  if (waiting_) {
    const msg::LbConfig next = std::move(*waiting_);
    waiting_.reset();
    return apply(next) || changed;
  }
  if (master_.pid() > 0 || busy() || restart_at_ms_ < 0 || clock_.steady_ms() < restart_at_ms_ ||
      !fs::exists(config_path()))
    return changed;
  restart_at_ms_ = -1;
  pending_deletes_.clear();  // a new master runs the file, where those servers are gone already
  if (Status s = master_.start(); !s.ok()) return start_failed(nullptr, s.message()) || changed;
  chore_ = Chore::restart;
  return changed;
}

void LbApplier::stop() {
  check_.cancel();
  flight_.reset();
  waiting_.reset();
  if (master_.pid() <= 0) return;
  master_.stop();
  // The agent is exiting: this is the one place that waits, on the real clock and within the grace.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.stop_grace_ms + 1000);
  while (!master_.step() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (master_.pid() > 0) {
    ::kill(master_.pid(), SIGKILL);
    master_.forget();
  }
}

}  // namespace pier::agent
