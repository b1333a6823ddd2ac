#include "services/agent/probe.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>

namespace pier::agent {

bool TcpProber::accepts(const std::string& ip, int port) { return accepting({{ip, port, ""}}).count(0) == 1; }

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
  return passing_http_checks(targets, out, http_timeout_ms_);
}

std::set<std::size_t> passing_http_checks(const std::vector<Prober::Target>& targets,
                                          const std::set<std::size_t>& candidates, int timeout_ms) {
  std::set<std::size_t> out;
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURLM, decltype(&curl_multi_cleanup)> multi(curl_multi_init(), &curl_multi_cleanup);
  std::vector<std::pair<std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>, std::size_t>> checks;
  const auto discard = +[](char*, size_t size, size_t count, void*) -> size_t { return size * count; };
  for (const std::size_t i : candidates) {
    if (targets[i].http_path.empty()) {
      out.insert(i);
      continue;
    }
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> easy(curl_easy_init(), &curl_easy_cleanup);
    const std::string url = "http://" + targets[i].ip + ":" + std::to_string(targets[i].port) + targets[i].http_path;
    curl_easy_setopt(easy.get(), CURLOPT_URL, url.c_str());  // libcurl copies it
    curl_easy_setopt(easy.get(), CURLOPT_PROXY, "");         // never through an http_proxy of the environment
    curl_easy_setopt(easy.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms));
    curl_easy_setopt(easy.get(), CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy.get(), CURLOPT_WRITEFUNCTION, discard);
    curl_multi_add_handle(multi.get(), easy.get());
    checks.emplace_back(std::move(easy), i);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (int running = 1; running > 0;) {
    if (curl_multi_perform(multi.get(), &running) != CURLM_OK) break;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (running == 0 || left.count() <= 0) break;
    curl_multi_poll(multi.get(), nullptr, 0, static_cast<int>(left.count()), nullptr);
  }
  int queued = 0;
  while (CURLMsg* message = curl_multi_info_read(multi.get(), &queued)) {
    if (message->msg != CURLMSG_DONE || message->data.result != CURLE_OK) continue;
    long status = 0;
    curl_easy_getinfo(message->easy_handle, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status >= 400) continue;
    for (const auto& [easy, index] : checks)
      if (easy.get() == message->easy_handle) out.insert(index);
  }
  for (const auto& check : checks) curl_multi_remove_handle(multi.get(), check.first.get());
  return out;
}

int count_connections_to(std::string_view proc_net_tcp, const std::string& ip, int port) {
  in_addr addr{};
  if (::inet_pton(AF_INET, ip.c_str(), &addr) != 1 || port <= 0 || port > 65535) return -1;
  // The kernel prints the address as the 32-bit word it stores (network order, shown in host order)
  // and the port as a number: 127.0.0.1:8000 is "0100007F:1F40" on a little-endian machine.
  char wanted[16];
  std::snprintf(wanted, sizeof wanted, "%08X:%04X", addr.s_addr, static_cast<unsigned>(port));
  int count = 0;
  std::istringstream lines{std::string(proc_net_tcp)};
  std::string line;
  std::getline(lines, line);  // the header
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    if (!(fields >> slot >> local >> remote >> state)) continue;
    if (remote == wanted && (state == "01" || state == "02")) ++count;  // ESTABLISHED, SYN_SENT
  }
  return count;
}

int TcpProber::connections_to(const std::string& ip, int port) {
  const auto now = std::chrono::steady_clock::now();
  if (proc_net_tcp_.empty() || now - proc_net_tcp_read_ >= std::chrono::milliseconds(50)) {
    std::ifstream in("/proc/net/tcp");
    std::stringstream text;
    text << in.rdbuf();
    proc_net_tcp_ = text.str();
    proc_net_tcp_read_ = now;
  }
  return std::max(0, count_connections_to(proc_net_tcp_, ip, port));
}

}  // namespace pier::agent
