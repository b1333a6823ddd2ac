#include "demo/one_write_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <string>

namespace pier::demo {
namespace {

int to_ms(time_t sec, time_t usec) { return static_cast<int>(sec * 1000 + usec / 1000); }

bool wait_for(socket_t sock, short events, int timeout_ms) {
  pollfd p{sock, events, 0};
  return ::poll(&p, 1, timeout_ms) > 0 && (p.revents & (events | POLLHUP | POLLERR)) != 0;
}

void ip_and_port(const sockaddr_storage& addr, std::string& ip, int& port) {
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (addr.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(addr);
    ::inet_ntop(AF_INET, &v4.sin_addr, text.data(), text.size());
    port = ntohs(v4.sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(addr);
    ::inet_ntop(AF_INET6, &v6.sin6_addr, text.data(), text.size());
    port = ntohs(v6.sin6_port);
  }
  ip = text.data();
}

// A connection's stream: reads through a buffer (httplib reads a request line a byte at a time) and
// holds what is written until flush(), or until a read needs the peer to have it (100 Continue).
class HeldStream final : public httplib::Stream {
 public:
  HeldStream(socket_t sock, int read_timeout_ms, int write_timeout_ms)
      : sock_(sock), read_timeout_ms_(read_timeout_ms), write_timeout_ms_(write_timeout_ms) {}

  bool is_readable() const override { return wait_readable(read_timeout_ms_); }
  bool is_writable() const override { return wait_for(sock_, POLLOUT, write_timeout_ms_); }

  ssize_t read(char* ptr, size_t size) override {
    if (!held_.empty() && !flush()) return -1;
    if (begin_ == end_) {
      if (!wait_for(sock_, POLLIN, read_timeout_ms_)) return -1;
      const ssize_t n = ::recv(sock_, in_.data(), in_.size(), 0);
      if (n <= 0) return n;
      begin_ = 0;
      end_ = static_cast<size_t>(n);
    }
    const size_t n = std::min(size, end_ - begin_);
    std::copy_n(in_.data() + begin_, n, ptr);
    begin_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    held_.append(ptr, size);
    if (held_.size() >= kMaxHeld && !flush()) return -1;
    return static_cast<ssize_t>(size);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getpeername(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) ip_and_port(addr, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) ip_and_port(addr, ip, port);
  }
  socket_t socket() const override { return sock_; }

  // Whether a request's first byte is here or comes within timeout_ms.
  bool wait_readable(int timeout_ms) const { return begin_ < end_ || wait_for(sock_, POLLIN, timeout_ms); }

  // Sends everything held; false when the peer is gone or takes no bytes for the write timeout.
  bool flush() {
    size_t sent = 0;
    while (sent < held_.size()) {
      const ssize_t n = ::send(sock_, held_.data() + sent, held_.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        sent += static_cast<size_t>(n);
      } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        if (!wait_for(sock_, POLLOUT, write_timeout_ms_)) break;
      } else {
        break;
      }
    }
    const bool whole = sent == held_.size();
    held_.clear();
    return whole;
  }

 private:
  static constexpr size_t kMaxHeld = 256 * 1024;  // a bigger response goes out in pieces
  socket_t sock_;
  int read_timeout_ms_;
  int write_timeout_ms_;
  std::array<char, 4096> in_{};
  size_t begin_ = 0;
  size_t end_ = 0;
  std::string held_;
};

}  // namespace

bool OneWriteServer::process_and_close_socket(socket_t sock) {
  HeldStream stream(sock, to_ms(read_timeout_sec_, read_timeout_usec_), to_ms(write_timeout_sec_, write_timeout_usec_));
  // The next request is waited for in short slices, so stop() ends an idle connection within one.
  constexpr int kSliceMs = 100;
  auto next_request = [&] {
    for (int waited = 0; svr_sock_ != INVALID_SOCKET; waited += kSliceMs) {
      if (stream.wait_readable(kSliceMs)) return true;
      if (waited >= keep_alive_timeout_sec_ * 1000) return false;
    }
    return false;
  };
  bool ok = false;
  for (size_t left = keep_alive_max_count_; left > 0 && next_request(); --left) {
    bool closed = false;
    ok = process_request(stream, left == 1, closed, nullptr);
    ok = stream.flush() && ok;
    if (!ok || closed) break;
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ok;
}

}  // namespace pier::demo
