#include "services/metrics/http_endpoint.h"

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>

#include "common/validate.h"
#include "services/metrics/prometheus_text.h"

namespace pier::metrics {

namespace {

constexpr int kDefaultLast = 10;
constexpr int kMaxLast = 1000;

void answer(httplib::Response& res, const QueryAnswer& a) {
  res.status = a.status;
  res.set_content(a.body.dump(2) + "\n", "application/json");
}

// The `app` parameter, checked; nullopt after answering 400.
std::optional<std::string> app_parameter(const httplib::Request& req, httplib::Response& res) {
  const std::string app = req.get_param_value("app");
  if (Status s = validate::dns_label("app", app); !s.ok()) {
    answer(res, {400, {{"error", s.message()}}});
    return std::nullopt;
  }
  return app;
}

}  // namespace

HttpEndpoint::HttpEndpoint(const LatestFigures& figures, const Clock& clock, const AutoscaleLoop* autoscale)
    : figures_(figures), clock_(clock), server_(std::make_unique<httplib::Server>()) {
  // cpp-httplib sets SO_REUSEPORT by default, which lets a second pier-metrics bind the same port and
  // silently take half the scrapes. SO_REUSEADDR alone allows a quick restart and refuses a port in use.
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(format_prometheus(figures_.snapshot(clock_.steady_ms())), kPrometheusContentType);
  });
  server_->Get("/healthz",
               [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });
  if (autoscale == nullptr) return;
  server_->Get("/decisions", [autoscale](const httplib::Request& req, httplib::Response& res) {
    auto app = app_parameter(req, res);
    if (!app) return;
    int last = kDefaultLast;
    if (req.has_param("last")) {
      auto n = validate::parse_int("last", req.get_param_value("last"));
      if (!n.ok() || *n < 1 || *n > kMaxLast) {
        answer(res, {400, {{"error", "last: must be a whole number from 1 to " + std::to_string(kMaxLast)}}});
        return;
      }
      last = static_cast<int>(*n);
    }
    answer(res, autoscale->decisions(*app, last));
  });
  server_->Get("/autoscale/dry-run", [autoscale](const httplib::Request& req, httplib::Response& res) {
    auto app = app_parameter(req, res);
    if (app) answer(res, autoscale->dry_run(*app));
  });
}

HttpEndpoint::~HttpEndpoint() { stop(); }

Status HttpEndpoint::start(const std::string& address, int port) {
  if (thread_.joinable()) return Status::Error("the HTTP endpoint is already serving");
  if (port == 0) {
    port_ = server_->bind_to_any_port(address);
    if (port_ <= 0) return Status::Error("cannot listen on " + address + " (any port)");
  } else {
    if (!server_->bind_to_port(address, port))
      return Status::Error("cannot listen on " + address + ":" + std::to_string(port) +
                           " (in use, or not an address of this host)");
    port_ = port;
  }
  listening_done_ = false;
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    listening_done_ = true;
  });
  // Server::stop() does nothing until the loop is running, so a stop() right after start() would
  // leave the thread serving forever: wait (bounded) until it runs.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!server_->is_running() && !listening_done_ && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (!server_->is_running()) {
    stop();
    return Status::Error("the HTTP server on " + address + ":" + std::to_string(port_) + " did not start");
  }
  return Status::Ok();
}

void HttpEndpoint::stop() {
  if (!thread_.joinable()) return;
  server_->stop();  // start() made sure the loop runs, so this ends it
  thread_.join();
}

}  // namespace pier::metrics
