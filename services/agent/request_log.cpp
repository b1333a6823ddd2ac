#include "services/agent/request_log.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

namespace pier::agent {

std::set<std::string> frontends_to_log(const msg::LbSpec& spec) {
  std::set<std::string> logged_backends, out;
  for (const auto& backend : spec.backends)
    if (backend.request_log) logged_backends.insert(backend.name);
  for (const auto& frontend : spec.frontends)
    for (const auto& route : frontend.routes)
      if (frontend.mode == "http" && logged_backends.count(route.backend)) out.insert(frontend.name);
  return out;
}

std::string with_request_log(const std::string& config, const std::string& socket_path,
                             const std::set<std::string>& frontends) {
  if (socket_path.empty() || frontends.empty()) return config;
  std::istringstream lines(config);
  std::string line, out;
  bool in_frontend = false;
  while (std::getline(lines, line)) {
    out += line;
    out += '\n';
    if (!line.empty() && line.front() != ' ' && line.front() != '\t' && line.front() != '#') {
      std::istringstream words(line);
      std::string keyword, name;
      words >> keyword >> name;
      in_frontend = keyword == "frontend" && frontends.count(name) != 0;
      continue;
    }
    const auto first = line.find_first_not_of(" \t");
    if (!in_frontend || first == std::string::npos || line.compare(first, std::string::npos, "mode http") != 0)
      continue;
    const std::string indent = line.substr(0, first);
    out += indent + "log unix@" + socket_path + " len 1024 format raw local0 info\n";
    out += indent + "option httplog\n";
  }
  if (!config.empty() && config.back() != '\n') out.pop_back();
  return out;
}

Result<std::unique_ptr<RequestLog>> RequestLog::open(const std::string& path, std::size_t max_pending) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path)
    return Status::Error("request log socket path '" + path + "' is empty or too long");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Error(std::string("socket: ") + std::strerror(errno));
  ::unlink(path.c_str());  // a previous agent's socket: nobody reads it any more
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    return Status::Error("cannot bind " + path + ": " + why);
  }
  // Wake up now and then to notice stop_.
  timeval tv{0, 100'000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return std::unique_ptr<RequestLog>(new RequestLog(path, fd, max_pending));
}

RequestLog::RequestLog(std::string path, int fd, std::size_t max_pending)
    : path_(std::move(path)), fd_(fd), max_pending_(max_pending), reader_([this] { read_loop(); }) {}

RequestLog::~RequestLog() {
  stop_ = true;
  ::shutdown(fd_, SHUT_RDWR);
  reader_.join();
  ::close(fd_);
  ::unlink(path_.c_str());
}

// A thread of its own: the kernel queues only a few datagrams per unix socket (net.unix.max_dgram_qlen,
// 10 by default) and HAProxy drops a log line rather than wait, so the socket is drained as lines come.
void RequestLog::read_loop() {
  char buf[2048];
  while (!stop_) {
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      spdlog::error("request log {}: {}", path_, std::strerror(errno));
      return;
    }
    if (n == 0) continue;  // an empty datagram, or shut down: stop_ says which
    auto request = parse_request_log_line(std::string_view(buf, static_cast<std::size_t>(n)));
    if (!request) continue;
    std::lock_guard lock(mutex_);
    if (pending_.size() >= max_pending_) {
      ++dropped_;
      continue;
    }
    pending_.push_back(std::move(*request));
  }
}

std::vector<LoggedRequest> RequestLog::take() {
  std::lock_guard lock(mutex_);
  std::vector<LoggedRequest> out;
  out.swap(pending_);
  return out;
}

}  // namespace pier::agent
