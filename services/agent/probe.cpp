#include "services/agent/probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

namespace pier::agent {

bool TcpProber::accepts(const std::string& ip, int port) { return accepting({{ip, port}}).count(0) == 1; }

std::set<std::size_t> TcpProber::accepting(const std::vector<Target>& targets) {
  std::set<std::size_t> out;
  std::vector<pollfd> waiting;
  std::vector<std::size_t> index_of;  // parallel to waiting
  for (std::size_t i = 0; i < targets.size(); ++i) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(targets[i].port));
    if (targets[i].port <= 0 || targets[i].port > 65535 ||
        ::inet_pton(AF_INET, targets[i].ip.c_str(), &addr.sin_addr) != 1)
      continue;
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      out.insert(i);
      ::close(fd);
    } else if (errno == EINPROGRESS) {
      waiting.push_back({fd, POLLOUT, 0});
      index_of.push_back(i);
    } else {
      ::close(fd);
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms_);
  std::size_t open = waiting.size();
  while (open > 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || ::poll(waiting.data(), waiting.size(), static_cast<int>(left.count())) <= 0) break;
    for (std::size_t k = 0; k < waiting.size(); ++k) {
      if (waiting[k].fd < 0 || waiting[k].revents == 0) continue;
      int error = 0;
      socklen_t len = sizeof error;
      if (::getsockopt(waiting[k].fd, SOL_SOCKET, SO_ERROR, &error, &len) == 0 && error == 0) out.insert(index_of[k]);
      ::close(waiting[k].fd);
      waiting[k].fd = -1;  // poll() ignores negative fds
      --open;
    }
  }
  for (const auto& p : waiting)
    if (p.fd >= 0) ::close(p.fd);
  return out;
}

}  // namespace pier::agent
