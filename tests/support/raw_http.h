// One HTTP/1.0 GET / on 127.0.0.1:port over a new connection, read to the end (2 s receive timeout):
// for tests that must see exactly one connection per request.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace pier::test_support {

// A TCP connection to 127.0.0.1:port whose receives give up after receive_timeout_s; -1 when it cannot
// connect.
inline int connect_loopback(int port, int receive_timeout_s = 2) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  timeval tv{receive_timeout_s, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
  ::close(fd);
  return -1;
}

// The whole response (status line, headers, body), or "" when nothing answers.
inline std::string raw_get(int port) {
  const int fd = connect_loopback(port);
  std::string response;
  if (fd >= 0) {
    const std::string request = "GET / HTTP/1.0\r\n\r\n";
    ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) response.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
  }
  return response;
}

}  // namespace pier::test_support
