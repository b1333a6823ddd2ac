#include "services/agent/haproxy_runtime.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pier::agent {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

Result<std::string> HaproxyRuntimeApi::send(const std::string& command) const {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path_.empty() || socket_path_.size() >= sizeof addr.sun_path)
    return Status::Error("haproxy socket path '" + socket_path_ + "' is empty or too long");
  std::memcpy(addr.sun_path, socket_path_.c_str(), socket_path_.size() + 1);
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Status::Error(std::string("socket: ") + std::strerror(errno));
  timeval tv{timeout_ms_ / 1000, (timeout_ms_ % 1000) * 1000};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return Status::Error("cannot connect to " + socket_path_ + ": " + std::strerror(errno));
  const std::string line = command + "\n";
  for (std::size_t sent = 0; sent < line.size();) {
    const ssize_t n = ::send(fd.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::Error("cannot write to " + socket_path_ + ": " + std::strerror(errno));
    sent += static_cast<std::size_t>(n);
  }
  std::string answer;
  char buf[4096];
  while (true) {
    const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return Status::Error("no answer from " + socket_path_ + " to '" + command + "': " +
                           (errno == EAGAIN || errno == EWOULDBLOCK ? std::string("timed out") : std::strerror(errno)));
    answer.append(buf, static_cast<std::size_t>(n));
    if (answer.size() > (16u << 20)) return Status::Error("answer from " + socket_path_ + " is larger than 16 MB");
  }
  return answer;
}

}  // namespace pier::agent
