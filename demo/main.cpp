// pier-demo-app: the application pier deploys in its demos and end-to-end tests. In http mode it
// answers every GET with a line naming the instance that served it (GET /work?ms=N burns N ms of CPU
// first); in tcp mode it echoes bytes.
#include <httplib.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include "common/log.h"
#include "common/options.h"
#include "demo/cpu_work.h"
#include "demo/one_write_server.h"
#include "demo/tcp_echo.h"

namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

// SIGINT and SIGTERM are blocked in every thread and taken by sigwait() in main, so stopping the
// server happens in ordinary code rather than in a signal handler.
sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

int wait_for_stop_signal(const sigset_t& set) {
  int signal = 0;
  sigwait(&set, &signal);
  return signal;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace pier;
  namespace po = boost::program_options;
  std::string host = env_or("HOST", "127.0.0.1");
  int port = std::atoi(env_or("PORT", "8080").c_str());
  std::string instance, app, host_id, mode, level;
  int healthz_status = 200;
  po::options_description desc("pier-demo-app options");
  // clang-format off
  desc.add_options()
      ("host", po::value(&host)->default_value(host), "address to listen on (default: $HOST or 127.0.0.1)")
      ("port", po::value(&port)->default_value(port), "port to listen on (default: $PORT or 8080)")
      ("instance", po::value(&instance)->default_value(""), "instance id shown in answers")
      ("app", po::value(&app)->default_value(""), "app name shown in answers")
      ("host-id", po::value(&host_id)->default_value(""), "pier host id shown in answers")
      ("mode", po::value(&mode)->default_value("http"), "http | tcp (echo)")
      ("healthz-status", po::value(&healthz_status)->default_value(healthz_status),
       "status GET /healthz answers, 200-599 (503 plays a release that never becomes healthy)");
  // clang-format on
  options::add_log_level(desc, level);
  options::parse_or_exit(argc, argv, desc,
                         "usage: pier-demo-app [options]\n\nA tiny HTTP server (or TCP echo server) for pier demos.");
  log::init("pier-demo-app", level);
  if (mode != "http" && mode != "tcp") {
    std::cerr << "error: --mode must be http or tcp\n";
    return 2;
  }
  if (port < 1 || port > 65535) {
    std::cerr << "error: --port must be between 1 and 65535\n";
    return 2;
  }
  if (healthz_status < 200 || healthz_status > 599) {
    std::cerr << "error: --healthz-status must be between 200 and 599\n";
    return 2;
  }
  const sigset_t stop_signals = block_stop_signals();  // before any thread starts, so all inherit it

  if (mode == "tcp") {
    demo::TcpEcho server;
    if (Status s = server.bind(host, port); !s.ok()) {
      spdlog::error("{}", s.message());
      return 1;
    }
    spdlog::info("tcp echo on {}:{} (instance={} app={} host={})", host, port, instance, app, host_id);
    std::thread serving([&server] { server.serve(); });
    spdlog::info("signal {}: stopping", wait_for_stop_signal(stop_signals));
    server.stop();
    serving.join();
    return 0;
  }

  demo::OneWriteServer server;       // each response in one send: a kill never cuts one in half
  server.set_keep_alive_timeout(2);  // bounds how long an idle keep-alive connection delays shutdown
  // Without TCP_NODELAY a response written while the previous one is unacknowledged waits for the
  // peer's delayed ACK (~40 ms), e.g. on HAProxy's pooled connections to the instance.
  server.set_tcp_nodelay(true);
  // cpp-httplib's default SO_REUSEPORT would let a second server bind the same address and port and
  // share its connections; SO_REUSEADDR alone refuses a port in use.
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  const std::string identity = "instance=" + instance + " app=" + app + " host=" + host_id;
  server.Get("/healthz", [healthz_status](const httplib::Request&, httplib::Response& res) {
    res.status = healthz_status;
    res.set_content(healthz_status < 400 ? "ok\n" : "unhealthy\n", "text/plain");
  });
  server.Get("/work", [&identity](const httplib::Request& req, httplib::Response& res) {
    auto ms = demo::parse_work_ms(req.has_param("ms") ? std::optional(req.get_param_value("ms")) : std::nullopt);
    if (!ms.ok()) {
      res.status = 400;
      res.set_content("error: " + ms.status().message() + "\n", "text/plain");
      return;
    }
    demo::burn_cpu(*ms);
    res.set_content(identity + " path=" + req.path + " ms=" + std::to_string(*ms) + "\n", "text/plain");
  });
  server.Get(".*", [&identity](const httplib::Request& req, httplib::Response& res) {
    res.set_content(identity + " path=" + req.path + "\n", "text/plain");
  });
  if (!server.bind_to_port(host, port)) {
    spdlog::error("cannot listen on {}:{}", host, port);
    return 1;
  }
  spdlog::info("http on {}:{} (instance={} app={} host={})", host, port, instance, app, host_id);
  std::thread serving([&server] { server.listen_after_bind(); });
  // Server::stop() does nothing before the accept loop runs: a signal that came right after start
  // would otherwise leave the server running and main waiting on it forever.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!server.is_running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  spdlog::info("signal {}: stopping", wait_for_stop_signal(stop_signals));
  server.stop();
  serving.join();
  return 0;
}
