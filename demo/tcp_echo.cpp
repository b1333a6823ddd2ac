#include "demo/tcp_echo.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

namespace pier::demo {

// What the connection threads share with the acceptor; each thread holds a reference, so the block
// lives as long as the last of them.
struct TcpEcho::Shared {
  std::mutex mutex;
  std::condition_variable idle;
  std::set<int> connections;
  std::atomic<bool> stopping{false};
};

namespace {

void echo(int fd) {
  char buffer[16384];
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    for (ssize_t sent = 0; sent < n;) {
      const ssize_t m = ::send(fd, buffer + sent, static_cast<std::size_t>(n - sent), MSG_NOSIGNAL);
      if (m < 0 && errno == EINTR) continue;
      if (m <= 0) return;
      sent += m;
    }
  }
}

}  // namespace

TcpEcho::~TcpEcho() {
  stop();
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

Status TcpEcho::bind(const std::string& host, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1)
    return Status::Invalid("host", "must be an IPv4 address, got '" + host + "'");
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (listen_fd_ < 0) return Status::Error(std::string("socket: ") + std::strerror(errno));
  const int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 128) != 0)
    return Status::Error("cannot listen on " + host + ":" + std::to_string(port) + ": " + std::strerror(errno));
  shared_ = std::make_shared<Shared>();
  return Status::Ok();
}

void TcpEcho::serve() {
  std::shared_ptr<Shared> shared = shared_;
  while (shared && !shared->stopping) {
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (!shared->stopping) spdlog::error("accept: {}", std::strerror(errno));
      return;
    }
    {
      std::lock_guard lock(shared->mutex);
      if (shared->stopping) {
        ::close(fd);
        return;
      }
      shared->connections.insert(fd);
    }
    std::thread([shared, fd] {
      echo(fd);
      std::lock_guard lock(shared->mutex);
      shared->connections.erase(fd);
      ::close(fd);
      shared->idle.notify_all();
    }).detach();
  }
}

void TcpEcho::stop() {
  if (!shared_ || shared_->stopping.exchange(true)) return;
  if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
  std::unique_lock lock(shared_->mutex);
  for (int fd : shared_->connections) ::shutdown(fd, SHUT_RDWR);  // wakes recv() in each thread
  shared_->idle.wait_for(lock, std::chrono::seconds(2), [this] { return shared_->connections.empty(); });
}

}  // namespace pier::demo
