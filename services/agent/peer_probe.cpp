#include "services/agent/peer_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>

#include "common/net.h"

namespace pier::agent {
namespace {

std::string connect_error(int error) {
  switch (error) {
    case ECONNREFUSED:
      return "connection refused";
    case EHOSTUNREACH:
      return "no route to host";
    case ENETUNREACH:
      return "network unreachable";
    case ETIMEDOUT:
      return "connect timed out";
    default: {
      std::string text = std::strerror(error);
      if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
      return text;
    }
  }
}

}  // namespace

std::vector<ProbeTarget> probe_targets(const msg::State& state, const std::string& host_id,
                                       const std::vector<Refusal>& refused) {
  std::map<std::string, const Refusal*> first_refusal;
  for (const auto& r : refused) first_refusal.emplace(r.host, &r);
  std::vector<ProbeTarget> out;
  for (const auto& h : state.hosts) {
    if (h.id == host_id || h.status == "down" || h.overlay.mode.empty()) continue;
    ProbeTarget target;
    target.host = h.id;
    target.port = h.overlay.probe_port;
    auto subnet = net::parse_cidr(h.subnet);
    if (subnet.ok() && subnet->prefix <= 30) target.ip = net::format_ipv4(probe_address(*subnet));
    if (auto it = first_refusal.find(h.id); it != first_refusal.end())
      target.error = "no overlay entry: " + it->second->field + ": " + it->second->rule;
    else if (target.ip.empty())
      target.error = "no probe address: subnet '" + h.subnet + "' is not usable";
    else if (target.port < 1 || target.port > 65535)
      target.error = "no probe port: overlay.probe_port is " + std::to_string(target.port);
    out.push_back(std::move(target));
  }
  return out;
}

std::vector<msg::PeerReach> probe_peers(const std::vector<ProbeTarget>& targets, int timeout_ms) {
  using Clock = std::chrono::steady_clock;
  std::vector<msg::PeerReach> out(targets.size());
  std::vector<pollfd> waiting;
  std::vector<std::size_t> index_of;  // parallel to waiting
  const auto start = Clock::now();
  auto rtt_us = [&] { return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count(); };
  for (std::size_t i = 0; i < targets.size(); ++i) {
    out[i].host = targets[i].host;
    if (!targets[i].error.empty()) {
      out[i].error = targets[i].error;
      continue;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(targets[i].port));
    if (::inet_pton(AF_INET, targets[i].ip.c_str(), &addr.sin_addr) != 1) {
      out[i].error = "'" + targets[i].ip + "' is not an IPv4 address";
      continue;
    }
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      out[i].error = "socket: " + connect_error(errno);
      continue;
    }
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      out[i].reachable = true;
      out[i].rtt_us = rtt_us();
      ::close(fd);
    } else if (errno == EINPROGRESS) {
      waiting.push_back({fd, POLLOUT, 0});
      index_of.push_back(i);
    } else {
      out[i].error = connect_error(errno);
      ::close(fd);
    }
  }
  // The round trips are measured from one start: the connects are issued within microseconds of it.
  const auto deadline = start + std::chrono::milliseconds(timeout_ms);
  std::size_t open = waiting.size();
  while (open > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    const int ready = ::poll(waiting.data(), waiting.size(), static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    for (std::size_t k = 0; k < waiting.size(); ++k) {
      if (waiting[k].fd < 0 || waiting[k].revents == 0) continue;
      msg::PeerReach& reach = out[index_of[k]];
      int error = 0;
      socklen_t len = sizeof error;
      if (::getsockopt(waiting[k].fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
      if (error == 0) {
        reach.reachable = true;
        reach.rtt_us = rtt_us();
      } else {
        reach.error = connect_error(error);
      }
      ::close(waiting[k].fd);
      waiting[k].fd = -1;  // poll() ignores negative fds
      --open;
    }
  }
  for (std::size_t k = 0; k < waiting.size(); ++k)
    if (waiting[k].fd >= 0) {
      out[index_of[k]].error = "connect timed out after " + std::to_string(timeout_ms) + " ms";
      ::close(waiting[k].fd);
    }
  return out;
}

ProbeListener::~ProbeListener() { stop(); }

Status ProbeListener::listen(const std::string& ip, int port) {
  if (thread_.joinable() && ip == ip_ && port == port_) return Status::Ok();
  stop();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (port < 0 || port > 65535 || ::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1)
    return Status::Error("probe listener: '" + ip + ":" + std::to_string(port) + "' is not an IPv4 address and port");
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Error(std::string("probe listener: socket: ") + std::strerror(errno));
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 64) != 0) {
    const int error = errno;
    ::close(fd);
    return Status::Error("probe listener: listen on " + ip + ":" + std::to_string(port) + ": " + std::strerror(error));
  }
  sockaddr_in bound{};
  socklen_t len = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  const int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    ::close(fd);
    return Status::Error(std::string("probe listener: eventfd: ") + std::strerror(errno));
  }
  listen_fd_ = fd;
  wake_fd_ = wake;
  ip_ = ip;
  port_ = port;
  bound_port_ = ntohs(bound.sin_port);
  thread_ = std::thread([fd, wake] {
    pollfd fds[2] = {{fd, POLLIN, 0}, {wake, POLLIN, 0}};
    for (;;) {
      if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
      if (fds[1].revents != 0) return;
      if (fds[0].revents == 0) continue;
      for (int c; (c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;) ::close(c);
    }
  });
  return Status::Ok();
}

void ProbeListener::stop() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
    thread_.join();
  }
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  listen_fd_ = wake_fd_ = -1;
  ip_.clear();
  port_ = bound_port_ = 0;
}

}  // namespace pier::agent
