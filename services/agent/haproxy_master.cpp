#include "services/agent/haproxy_master.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/files.h"
#include "common/process.h"

namespace pier::agent {
namespace fs = std::filesystem;

std::string explain_haproxy_output(const std::string& output, const std::string& fallback) {
  std::istringstream lines(output);
  std::string line, alerts, all;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    if (line.find("[ALERT]") != std::string::npos) alerts += (alerts.empty() ? "" : " | ") + line;
    all += (all.empty() ? "" : " | ") + line;
  }
  std::string text = alerts.empty() ? all : alerts;
  if (text.size() > 1000) text = text.substr(0, 1000) + "...";
  return text.empty() ? fallback : text;
}

bool is_haproxy_for(pid_t pid, const std::string& config_path) {
  if (pid <= 0 || !process::exists(pid)) return false;
  const std::string proc = "/proc/" + std::to_string(pid);
  // The master executes itself again once it has loaded (HAProxy 2.5+'s wait mode) and on every
  // reload; during an exec its cmdline reads empty. Read again for up to 200 ms, unless it is a zombie.
  std::string cmdline;
  for (int attempt = 0; attempt < 40; ++attempt) {
    cmdline = files::read_text(proc + "/cmdline");
    if (!cmdline.empty()) break;
    const std::string stat = files::read_text(proc + "/stat");
    const auto state = stat.rfind(") ");
    if (state == std::string::npos || stat.compare(state + 2, 1, "Z") == 0) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
  return cmdline.find("haproxy") != std::string::npos && cmdline.find(config_path) != std::string::npos;
}

ConfigCheck::ConfigCheck(std::string haproxy, std::string output_path, int timeout_ms, const Clock& clock)
    : haproxy_(std::move(haproxy)), output_path_(std::move(output_path)), timeout_ms_(timeout_ms), clock_(clock) {}

Status ConfigCheck::begin(const std::string& path) {
  cancel();
  std::error_code ec;
  fs::remove(output_path_, ec);
  process::SpawnOptions spawn;
  spawn.argv = {haproxy_, "-c", "-f", path};
  spawn.output_path = output_path_;
  auto pid = process::spawn(spawn);
  if (!pid.ok()) return Status::Error("cannot run " + haproxy_ + ": " + pid.status().message());
  pid_ = *pid;
  deadline_ms_ = clock_.steady_ms() + timeout_ms_;
  return Status::Ok();
}

std::optional<Status> ConfigCheck::poll() {
  if (pid_ <= 0) return std::nullopt;
  if (const auto code = process::try_wait(pid_)) {
    pid_ = 0;
    if (*code == 0) return Status::Ok();
    return Status::Error(
        explain_haproxy_output(files::read_text(output_path_), "haproxy -c refused the configuration"));
  }
  if (clock_.steady_ms() < deadline_ms_) return std::nullopt;
  cancel();
  return Status::Error("haproxy -c did not finish within " + std::to_string(timeout_ms_) + " ms");
}

void ConfigCheck::cancel() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  process::wait(pid_);
  pid_ = 0;
}

HaproxyMaster::HaproxyMaster(HaproxyMasterOptions options, const Clock& clock)
    : options_(std::move(options)), clock_(clock) {}

bool HaproxyMaster::adopt(pid_t pid) {
  if (!is_haproxy_for(pid, options_.config_path)) return false;
  pid_ = pid;
  adopted_ = true;
  return true;
}

std::uintmax_t HaproxyMaster::log_size() const {
  std::error_code ec;
  const auto size = fs::file_size(options_.log_path, ec);
  return ec ? 0 : size;
}

Status HaproxyMaster::start() {
  std::error_code ec;
  fs::remove(options_.pid_path, ec);
  process::SpawnOptions spawn;
  // No `-p`: HAProxy truncates its pid file and writes it later than it logs "Loading success", so
  // an agent that starts in between would find it empty. The master is the process spawned here
  // (-W without -D stays in the foreground): its pid is written once it has loaded, atomically.
  spawn.argv = {options_.haproxy, "-W", "-f", options_.config_path};
  spawn.output_path = options_.log_path;
  spawn.new_process_group = true;
  log_offset_ = log_size();
  auto pid = process::spawn(spawn);
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  adopted_ = false;
  exited_ = false;
  operation_ = Operation::start;
  deadline_ms_ = clock_.steady_ms() + options_.load_timeout_ms;
  return Status::Ok();
}

void HaproxyMaster::reload() {
  log_offset_ = log_size();
  ::kill(pid_, SIGUSR2);
  operation_ = Operation::reload;
  deadline_ms_ = clock_.steady_ms() + options_.load_timeout_ms;
  resend_at_ms_ = clock_.steady_ms() + options_.resend_ms;
}

void HaproxyMaster::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  operation_ = Operation::stop;
  deadline_ms_ = clock_.steady_ms() + options_.stop_grace_ms;
}

bool HaproxyMaster::alive() {
  if (pid_ <= 0 || exited_) return false;
  if (adopted_) {
    // Not our child: alive while it exists and is no zombie. (Its command line is checked once, at
    // adoption; while it re-executes itself for a reload, /proc may briefly show none.)
    if (!process::exists(pid_)) return false;
    const std::string stat = files::read_text("/proc/" + std::to_string(pid_) + "/stat");
    const auto close = stat.rfind(')');
    return close == std::string::npos || close + 2 >= stat.size() || stat[close + 2] != 'Z';
  }
  if (!exited_ && process::try_wait(pid_).has_value()) exited_ = true;  // reaped: its pid may be reused
  return !exited_;
}

void HaproxyMaster::forget() {
  if (pid_ > 0) ::kill(-pid_, SIGKILL);  // workers go with their master; anything left in its group goes now
  pid_ = 0;
  adopted_ = false;
  exited_ = false;
}

std::optional<Status> HaproxyMaster::end(Status outcome) {
  operation_ = Operation::none;
  return outcome;
}

std::optional<Status> HaproxyMaster::step() {
  switch (operation_) {
    case Operation::none:
      return std::nullopt;
    case Operation::start:
    case Operation::reload:
      return step_load();
    case Operation::stop:
      return step_stop();
  }
  return std::nullopt;
}

// The master prints "Loading success." once its new worker runs the new config (or "Loading
// failure!"). A SIGUSR2 that lands while it is still loading (or just after, before its master loop
// runs) is lost: so a reload whose "Reloading HAProxy" has not shown within resend_ms is asked for again.
std::optional<Status> HaproxyMaster::step_load() {
  std::string output;
  {
    std::ifstream in(options_.log_path, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(log_offset_));
    std::ostringstream text;
    text << in.rdbuf();
    output = text.str();
  }
  const bool starting = operation_ == Operation::start;
  std::optional<Status> failed;
  if (output.find("Loading success") != std::string::npos) {
    if (starting) {
      if (Status s = files::write_atomically(options_.pid_path, std::to_string(pid_) + "\n"); !s.ok())
        spdlog::error("{}: a restarted agent will not adopt this haproxy", s.message());
      spdlog::info("haproxy started (master pid {}, {})", pid_, options_.config_path);
    }
    return end(Status::Ok());
  }
  if (output.find("Loading failure") != std::string::npos) {
    failed = Status::Error(explain_haproxy_output(output, "haproxy could not load the configuration"));
  } else if (!alive()) {
    failed = Status::Error("haproxy exited: " + explain_haproxy_output(output, "no output"));
  } else if (clock_.steady_ms() >= deadline_ms_) {
    failed = Status::Error("haproxy did not finish loading within " + std::to_string(options_.load_timeout_ms) + " ms");
  }
  if (!failed) {
    if (!starting && output.find("Reloading HAProxy") == std::string::npos && clock_.steady_ms() >= resend_at_ms_) {
      ::kill(pid_, SIGUSR2);
      resend_at_ms_ = clock_.steady_ms() + options_.resend_ms;
    }
    return std::nullopt;
  }
  if (starting) {
    // A master that cannot bind its ports (or lacks file descriptors) exits, or hangs: none is left.
    if (alive()) {
      ::kill(pid_, SIGKILL);
      if (!adopted_) process::wait(pid_);
    }
    forget();
  }
  return end(*failed);
}

std::optional<Status> HaproxyMaster::step_stop() {
  const bool gone = !alive();
  if (!gone && clock_.steady_ms() < deadline_ms_) return std::nullopt;
  if (!gone) {
    ::kill(pid_, SIGKILL);
    if (!adopted_) process::wait(pid_);
  }
  spdlog::info("haproxy stopped (master pid {})", pid_);
  forget();
  std::error_code ec;
  fs::remove(options_.pid_path, ec);
  return end(gone ? Status::Ok() : Status::Error("haproxy did not stop within its grace: killed"));
}

}  // namespace pier::agent
