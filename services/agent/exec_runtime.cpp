#include "services/agent/exec_runtime.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/files.h"
#include "common/process.h"

namespace pier::agent {
namespace fs = std::filesystem;

std::map<std::string, std::string> process_environment(pid_t pid) {
  std::map<std::string, std::string> env;
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  std::string entry;
  while (std::getline(in, entry, '\0')) {
    const auto eq = entry.find('=');
    if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return env;
}

std::string last_line(const std::string& path, std::size_t max_chars) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return {};
  const std::streamoff size = in.tellg();
  const std::streamoff from = size > 4096 ? size - 4096 : 0;
  in.seekg(from);
  std::string tail(static_cast<std::size_t>(size - from), '\0');
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  std::size_t end = tail.size();
  while (end > 0) {
    while (end > 0 && (tail[end - 1] == '\n' || tail[end - 1] == '\r' || tail[end - 1] == ' ')) --end;
    std::size_t begin = tail.rfind('\n', end == 0 ? 0 : end - 1);
    begin = begin == std::string::npos ? 0 : begin + 1;
    if (end > begin) {
      std::string line = tail.substr(begin, end - begin);
      if (line.size() > max_chars) line = line.substr(0, max_chars);
      return line;
    }
    end = begin;
  }
  return {};
}

std::string resolve_program(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos) return name;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream dirs(path);
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
      const fs::path candidate = fs::path(dir.empty() ? "." : dir) / name;
      if (::access(candidate.c_str(), X_OK) == 0) return name;
    }
  }
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path beside = self.parent_path() / name;
    if (::access(beside.c_str(), X_OK) == 0) return beside.string();
  }
  return name;
}

ExecRuntime::ExecRuntime(std::string state_dir, std::string host_id, const Clock& clock)
    : dir_(std::move(state_dir) + "/instances"), host_id_(std::move(host_id)), clock_(clock) {
  fs::create_directories(dir_);
  adopt();
}

std::string ExecRuntime::log_path(const std::string& id) const { return dir_ + "/" + id + ".log"; }
std::string ExecRuntime::pid_path(const std::string& id) const { return dir_ + "/" + id + ".pid"; }

std::map<std::string, std::string> ExecRuntime::environment(const InstanceSpec& spec) const {
  std::map<std::string, std::string> env = spec.env;
  env["PORT"] = std::to_string(spec.port);
  env["HOST"] = spec.ip;
  env["PIER_INSTANCE"] = spec.id;
  env["PIER_APP"] = spec.app;
  env["PIER_HOST_ID"] = host_id_;
  env["PIER_REVISION"] = std::to_string(spec.revision);
  return env;
}

void ExecRuntime::adopt() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    if (entry.path().extension() != ".pid") continue;
    const std::string id = entry.path().stem().string();
    pid_t pid = 0;
    std::ifstream(entry.path()) >> pid;
    const auto env = pid > 0 && process::exists(pid) ? process_environment(pid) : std::map<std::string, std::string>{};
    const auto it = env.find("PIER_INSTANCE");
    if (it == env.end() || it->second != id) {
      fs::remove(entry.path(), ec);  // stale: that process is gone (or the pid now names another one)
      continue;
    }
    Child child;
    child.instance.pid = pid;
    child.instance.adopted = true;
    InstanceSpec& spec = child.instance.spec;
    spec.id = id;
    const auto get = [&env](const char* key) {
      auto found = env.find(key);
      return found == env.end() ? std::string() : found->second;
    };
    spec.app = get("PIER_APP");
    spec.ip = get("HOST");
    spec.port = std::atoi(get("PORT").c_str());
    spec.revision = std::atoll(get("PIER_REVISION").c_str());
    spdlog::info("adopted instance {} of app {} (pid {}, revision {})", id, spec.app, pid, spec.revision);
    children_[id] = std::move(child);
  }
}

Result<pid_t> ExecRuntime::start(const InstanceSpec& spec) {
  if (children_.count(spec.id) != 0) return Status::Error("instance " + spec.id + " is already running");
  if (spec.command.empty()) return Status::Error("app " + spec.app + " has no command to run");
  process::SpawnOptions options;
  options.argv = spec.command;
  options.argv[0] = resolve_program(options.argv[0]);
  options.env = environment(spec);
  options.output_path = log_path(spec.id);
  options.new_process_group = true;
  auto pid = process::spawn(options);
  if (!pid.ok()) return pid.status();
  if (Status s = files::write_atomically(pid_path(spec.id), std::to_string(*pid) + "\n"); !s.ok())
    spdlog::warn("{}: a restarted agent will not adopt instance {}", s.message(), spec.id);
  Child child;
  child.instance = RunningInstance{spec, *pid, false};
  children_[spec.id] = std::move(child);
  return *pid;
}

void ExecRuntime::signal(const Child& child, int sig) const {
  const pid_t pid = child.instance.pid;
  // The whole process group when the instance leads one (it does when we started it), so that
  // `sh -c` and what it started go too.
  if (::getpgid(pid) == pid)
    ::kill(-pid, sig);
  else
    ::kill(pid, sig);
}

void ExecRuntime::stop(const std::string& id, int grace_ms) {
  auto it = children_.find(id);
  if (it == children_.end() || it->second.kill_at_ms >= 0) return;
  signal(it->second, SIGTERM);
  it->second.kill_at_ms = clock_.steady_ms() + std::max(0, grace_ms);
}

std::vector<InstanceExit> ExecRuntime::poll() {
  std::vector<InstanceExit> exits;
  for (auto it = children_.begin(); it != children_.end();) {
    Child& child = it->second;
    const pid_t pid = child.instance.pid;
    std::optional<int> code;
    if (child.instance.adopted) {
      // Not our child: no exit status, only whether it is still there (and still that instance).
      const auto env = process::exists(pid) ? process_environment(pid) : std::map<std::string, std::string>{};
      const auto found = env.find("PIER_INSTANCE");
      if (found == env.end() || found->second != it->first) code = -1;
    } else {
      // Exited? Look without reaping: while the zombie stays, its pid (the id of its process group)
      // cannot be reused, so what it left in its group can be killed without hitting a stranger.
      siginfo_t info{};
      if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid) {
        ::kill(-pid, SIGKILL);
        code = process::try_wait(pid);
      }
    }
    if (!code) {
      if (child.kill_at_ms >= 0 && clock_.steady_ms() >= child.kill_at_ms) {
        signal(child, SIGKILL);
        child.kill_at_ms = clock_.steady_ms() + 1000;  // and again later should it still be there
      }
      ++it;
      continue;
    }
    InstanceExit exit;
    exit.id = it->first;
    exit.code = *code;
    exit.last_output = last_line(log_path(it->first));
    exit.stopped = child.kill_at_ms >= 0;
    exits.push_back(std::move(exit));
    std::error_code ec;
    fs::remove(pid_path(it->first), ec);
    it = children_.erase(it);
  }
  return exits;
}

std::vector<RunningInstance> ExecRuntime::list() const {
  std::vector<RunningInstance> out;
  for (const auto& [id, child] : children_) out.push_back(child.instance);
  return out;
}

}  // namespace pier::agent
