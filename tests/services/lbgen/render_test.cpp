#include "services/lbgen/render.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/process.h"
#include "common/states.h"
#include "services/lbgen/lb_spec.h"
#include "tests/services/lbgen/state_builder.h"
#include "tests/support/free_port.h"
#include "tests/support/temp_dir.h"

namespace pier::lbgen {
namespace {

namespace fs = std::filesystem;
using testing::app;
using testing::host;
using testing::instance;

constexpr const char* kHaproxy = "/usr/sbin/haproxy";

std::string slurp(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A temp folder per test, removed afterwards.
class RenderTest : public ::testing::Test {
 protected:
  // Renders the spec of host h1 in `state` with the built-in template.
  std::string rendered(const msg::State& state) {
    auto text = render(build_spec(state, state.hosts[0]), default_template());
    EXPECT_TRUE(text.ok()) << text.status().message();
    return text.ok() ? *text : std::string();
  }

  // Runs the real `haproxy -c -f` on `config`; returns its exit code, with its output in `output`.
  int haproxy_check(const std::string& config, std::string& output) {
    const std::string name = (dir_ / ("haproxy-" + std::to_string(++count_))).string();
    std::ofstream(name + ".cfg") << config;
    process::SpawnOptions options;
    options.argv = {kHaproxy, "-c", "-f", name + ".cfg"};
    options.output_path = name + ".out";
    auto pid = process::spawn(options);
    if (!pid.ok()) {
      output = pid.status().message();
      return -1;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    std::optional<int> code;
    while (!(code = process::try_wait(*pid)) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!code) code = process::stop(*pid, 1000);
    output = slurp(name + ".out");
    return *code;
  }

  void expect_haproxy_accepts(const std::string& config) {
    std::string output;
    EXPECT_EQ(haproxy_check(config, output), 0) << output << "\n--- config ---\n" << config;
    EXPECT_EQ(output.find("[WARNING]"), std::string::npos) << output << "\n--- config ---\n" << config;
  }

  pier::testing::TempDir temp_{"pier-lbgen-test-"};
  const fs::path dir_{temp_.path()};
  int count_ = 0;
};

using test_support::free_port;

bool accepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

msg::State one_host() {
  msg::State state;
  state.hosts = {host("h1", "127.0.0.1", 19400)};
  return state;
}

TEST_F(RenderTest, DefaultTemplateIsUsable) { EXPECT_TRUE(check_template(default_template()).ok()); }

TEST_F(RenderTest, EmptyStateGivesGlobalDefaultsAndStats) {
  const std::string cfg = rendered(one_host());
  EXPECT_NE(cfg.find("global\n"), std::string::npos);
  EXPECT_NE(cfg.find("    maxconn "), std::string::npos);
  EXPECT_NE(cfg.find("    stats socket /run/pier/h1/haproxy.sock mode 600 level admin expose-fd listeners\n"),
            std::string::npos);
  EXPECT_NE(cfg.find("    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n"), std::string::npos);
  EXPECT_NE(cfg.find("    option redispatch 1\n    retries 3\n"), std::string::npos);
  EXPECT_NE(cfg.find("frontend stats\n    mode http\n    bind 127.0.0.1:19400\n"
                     "    http-request use-service prometheus-exporter if { path /metrics }\n"
                     "    stats enable\n    stats uri /stats\n"),
            std::string::npos)
      << cfg;
  EXPECT_EQ(cfg.find("backend "), std::string::npos);
  expect_haproxy_accepts(cfg);
}

TEST_F(RenderTest, OneHttpApp) {
  msg::State state = one_host();
  state.apps = {app("web", {{18080, 8000}})};
  state.instances = {instance("web-1", "web", "h1", "127.100.0.2"), instance("web-2", "web", "h1", "127.100.0.3")};
  const std::string cfg = rendered(state);
  EXPECT_NE(
      cfg.find(
          "frontend fe_18080\n    mode http\n    bind 127.0.0.1:18080\n    option forwardfor\n"
          "    # On a reload the old worker closes an idle keep-alive client connection only after answering one\n"
          "    # more request on it (with Connection: close), so a client never writes into a closing connection.\n"
          "    option idle-close-on-response\n"
          "    default_backend app_web_8000\n"),
      std::string::npos)
      << cfg;
  EXPECT_NE(
      cfg.find(
          "backend app_web_8000\n    mode http\n    balance roundrobin\n"
          "    option httpchk GET /\n"
          "    # An instance that dies with a request in flight (killed, crashed, stopped) closes without an\n"
          "    # answer: that request is sent again to another server, but only when it is safe to repeat.\n"
          "    retry-on conn-failure empty-response\n"
          "    http-request disable-l7-retry unless METH_GET || METH_HEAD || METH_OPTIONS\n"
          "    # A request sent just before its server's host was cut off waits for an answer that never comes:\n"
          "    # TCP keepalive probes end that connection after 2-3 s of silence (a slow server's kernel still\n"
          "    # answers them), and the request is sent again elsewhere (retry-on empty-response).\n"
          "    option srvtcpka\n"
          "    srvtcpka-idle 1s\n"
          "    srvtcpka-intvl 1s\n"
          "    srvtcpka-cnt 2\n"
          "    # Fail-open: each server has an unchecked backup twin; when every checked server is down,\n"
          "    # HAProxy spreads requests over all the twins (a dead one is retried elsewhere: redispatch).\n"
          "    option allbackups\n"
          "    # downinter: a server that is down is checked as often as one changing state, so one that comes\n"
          "    # back (a healed link) serves again within rise x fastinter.\n"
          "    default-server inter 2000 fastinter 200 downinter 200 rise 2 fall 3\n"
          "    # tcp-ut: a request written to a server that acknowledges nothing for 2 s (its host cut off, mid\n"
          "    # keep-alive) fails the connection, so it is retried elsewhere (retry-on empty-response) instead of\n"
          "    # waiting out timeout server. On each server line: HAProxy 2.6 does not take it from default-server,\n"
          "    # and refuses it for servers added at run time (on an overlay the agent reloads once such adds have\n"
          "    # settled, --lb-settle-reload-ms).\n"
          "    server web-1 127.100.0.2:8000 check tcp-ut 2s\n"
          "    server web-1_failopen 127.100.0.2:8000 backup tcp-ut 2s\n"
          "    server web-2 127.100.0.3:8000 check tcp-ut 2s\n"
          "    server web-2_failopen 127.100.0.3:8000 backup tcp-ut 2s\n"),
      std::string::npos)
      << cfg;
  EXPECT_EQ(cfg.find("hash-type"), std::string::npos);
  expect_haproxy_accepts(cfg);
}

TEST_F(RenderTest, TwoAppsSharingAPortByPath) {
  msg::State state = one_host();
  state.apps = {app("web", {{18080, 8000}}), app("api", {{18080, 9000}}, "http", "/api")};
  state.instances = {instance("web-1", "web", "h1", "127.100.0.2"), instance("api-2", "api", "h1", "127.100.0.3")};
  const std::string cfg = rendered(state);
  EXPECT_NE(
      cfg.find(
          "    option forwardfor\n"
          "    # On a reload the old worker closes an idle keep-alive client connection only after answering one\n"
          "    # more request on it (with Connection: close), so a client never writes into a closing connection.\n"
          "    option idle-close-on-response\n"
          "    acl path_app_api_9000 path /api\n"
          "    acl path_app_api_9000 path_beg /api/\n"
          "    use_backend app_api_9000 if path_app_api_9000\n"
          "    default_backend app_web_8000\n"),
      std::string::npos)
      << cfg;
  expect_haproxy_accepts(cfg);
}

TEST_F(RenderTest, OnlyPathRoutesMeansNoDefaultBackend) {
  msg::State state = one_host();
  state.apps = {app("api", {{18080, 9000}}, "http", "/api"), app("docs", {{18080, 9100}}, "http", "/docs")};
  const std::string cfg = rendered(state);
  EXPECT_EQ(cfg.find("default_backend"), std::string::npos) << cfg;
  EXPECT_NE(cfg.find("use_backend app_api_9000 if path_app_api_9000\n"), std::string::npos) << cfg;
  EXPECT_NE(cfg.find("use_backend app_docs_9100 if path_app_docs_9100\n"), std::string::npos) << cfg;
  // No running instance yet: the backends have no servers, which HAProxy accepts.
  expect_haproxy_accepts(cfg);
}

TEST_F(RenderTest, TcpApp) {
  msg::State state = one_host();
  state.apps = {app("echo", {{17000, 7000}}, "tcp")};
  state.instances = {instance("echo-1", "echo", "h1", "127.100.0.2")};
  const std::string cfg = rendered(state);
  EXPECT_NE(cfg.find("frontend fe_17000\n    mode tcp\n    bind 127.0.0.1:17000\n    default_backend app_echo_7000\n"),
            std::string::npos)
      << cfg;
  EXPECT_NE(cfg.find("backend app_echo_7000\n    mode tcp\n    balance roundrobin\n    option tcp-check\n"),
            std::string::npos)
      << cfg;
  EXPECT_NE(cfg.find("    server echo-1 127.100.0.2:7000 check tcp-ut 2s\n    server echo-1_failopen 127.100.0.2:7000 "
                     "backup tcp-ut 2s\n"),
            std::string::npos)
      << cfg;
  EXPECT_EQ(cfg.find("forwardfor"), std::string::npos);
  expect_haproxy_accepts(cfg);
}

TEST_F(RenderTest, LeastconnAndSource) {
  msg::State state = one_host();
  state.apps = {app("web", {{18080, 8000}}, "http", "/", "leastconn"),
                app("sticky", {{18081, 8000}}, "http", "/", "source"),
                app("db", {{15432, 5432}}, "tcp", "/", "source")};
  state.instances = {instance("web-1", "web", "h1", "127.100.0.2"), instance("sticky-2", "sticky", "h1", "127.100.0.3"),
                     instance("db-3", "db", "h1", "127.100.0.4")};
  const std::string cfg = rendered(state);
  EXPECT_NE(cfg.find("backend app_web_8000\n    mode http\n    balance leastconn\n    option httpchk"),
            std::string::npos)
      << cfg;
  EXPECT_NE(cfg.find("backend app_sticky_8000\n    mode http\n    balance source\n    hash-type consistent\n"),
            std::string::npos)
      << cfg;
  EXPECT_NE(cfg.find("backend app_db_5432\n    mode tcp\n    balance source\n    hash-type consistent\n"),
            std::string::npos)
      << cfg;
  expect_haproxy_accepts(cfg);
}

TEST_F(RenderTest, UriHashAndProxyProtocol) {
  msg::State state = one_host();
  state.apps = {app("cache", {{18082, 8000}}, "http", "/", "uri"), app("db", {{15433, 5432}}, "tcp")};
  state.apps[1].spec.proxy_protocol = true;
  state.instances = {instance("cache-1", "cache", "h1", "127.100.0.2"), instance("db-2", "db", "h1", "127.100.0.3")};
  const std::string cfg = rendered(state);
  EXPECT_NE(cfg.find("backend app_cache_8000\n    mode http\n    balance uri\n    hash-type consistent\n"),
            std::string::npos)
      << cfg;
  EXPECT_NE(cfg.find("    server db-2 127.100.0.3:5432 check tcp-ut 2s send-proxy-v2\n"
                     "    server db-2_failopen 127.100.0.3:5432 backup tcp-ut 2s send-proxy-v2\n"),
            std::string::npos)
      << cfg;
  EXPECT_NE(cfg.find("    server cache-1 127.100.0.2:8000 check tcp-ut 2s\n"), std::string::npos) << cfg;
  expect_haproxy_accepts(cfg);
}

TEST_F(RenderTest, EveryAllowedContextPathCharacterIsAcceptedByHaproxy) {
  msg::State state = one_host();
  state.apps = {app("web", {{18080, 8000}}), app("odd", {{18080, 8001}}, "http", "/a-._~!&()*+,;=:@%2F/Z9")};
  const std::string cfg = rendered(state);
  EXPECT_NE(cfg.find("acl path_app_odd_8001 path /a-._~!&()*+,;=:@%2F/Z9\n"), std::string::npos) << cfg;
  expect_haproxy_accepts(cfg);
}

TEST_F(RenderTest, HealthCheckSettingsOfTheApp) {
  msg::State state = one_host();
  state.apps = {app("web", {{18080, 8000}}), app("echo", {{17000, 7000}}, "tcp")};
  state.apps[0].spec.health_path = "/a-._~!&()*+,;=:@%2F/Z9?x=1&y";
  state.apps[0].spec.check_rise = 5;
  state.apps[0].spec.check_fall = 7;
  state.apps[0].spec.check_inter_ms = 250;
  state.apps[1].spec.check_inter_ms = 3'600'000;
  state.instances = {instance("web-1", "web", "h1", "127.100.0.2"), instance("echo-1", "echo", "h1", "127.100.0.3")};
  const auto spec = build_spec(state, state.hosts[0]);
  ASSERT_EQ(spec.backends.size(), 2u);
  EXPECT_EQ(spec.backends[1].health_path, "/a-._~!&()*+,;=:@%2F/Z9?x=1&y");
  EXPECT_EQ(spec.backends[1].check_rise, 5);
  const std::string cfg = rendered(state);
  EXPECT_NE(cfg.find("    option httpchk GET /a-._~!&()*+,;=:@%2F/Z9?x=1&y\n"), std::string::npos) << cfg;
  EXPECT_NE(cfg.find("    default-server inter 250 fastinter 100 downinter 100 rise 5 fall 7\n"), std::string::npos)
      << cfg;
  EXPECT_NE(cfg.find("    default-server inter 3600000 fastinter 360000 downinter 360000 rise 2 fall 3\n"),
            std::string::npos)
      << cfg;
  expect_haproxy_accepts(cfg);
}

TEST_F(RenderTest, HostWithoutSocketOrStatsPortStillGivesAValidConfig) {
  msg::State state = one_host();
  state.hosts[0].haproxy_socket = "";
  state.hosts[0].stats_port = 0;
  state.apps = {app("web", {{18080, 8000}})};
  const std::string cfg = rendered(state);
  EXPECT_EQ(cfg.find("stats socket"), std::string::npos);
  EXPECT_EQ(cfg.find("frontend stats"), std::string::npos);
  expect_haproxy_accepts(cfg);
}

TEST_F(RenderTest, ManyAppsOnManyPortsWithSeveralHosts) {
  msg::State state;
  state.hosts = {host("h1", "127.0.0.1", 19400), host("h2", "127.0.0.2", 19401)};
  state.apps = {app("web", {{18080, 8000}, {18443, 8000}}), app("api", {{18080, 9000}}, "http", "/api", "leastconn"),
                app("apiv2", {{18080, 9000}}, "http", "/api/v2", "source"), app("echo", {{17000, 7000}}, "tcp")};
  int n = 0;
  for (const char* a : {"web", "api", "apiv2", "echo"})
    for (const char* h : {"h1", "h2"}) {
      ++n;
      const std::string ip = std::string("127.100.") + (h[1] == '1' ? "0." : "1.") + std::to_string(n + 1);
      state.instances.push_back(instance(states::instance_id(a, n), a, h, ip));
    }
  for (const auto& h : state.hosts) {
    auto cfg = render(build_spec(state, h), default_template());
    ASSERT_TRUE(cfg.ok());
    expect_haproxy_accepts(*cfg);
  }
}

// The states the operator guide promises, each checked by the real `haproxy -c`, with the admin
// socket in this test's own folder (a path HAProxy could really create).
TEST_F(RenderTest, RepresentativeStatesPassHaproxyCheck) {
  const auto with_socket = [this](msg::State state) {
    state.hosts[0].haproxy_socket = (dir_ / "haproxy.sock").string();
    return state;
  };
  msg::State shared_port = one_host();  // http: two apps on one port, routed by context path
  shared_port.apps = {app("web", {{8080, 8000}}), app("api", {{8080, 9000}}, "http", "/api", "leastconn")};
  shared_port.instances = {instance("web-1", "web", "h1", "127.100.0.2"), instance("web-2", "web", "h1", "127.100.0.3"),
                           instance("api-3", "api", "h1", "127.100.0.4")};
  msg::State tcp = one_host();  // tcp app, source balancing
  tcp.apps = {app("echo", {{7000, 7000}}, "tcp", "/", "source")};
  tcp.instances = {instance("echo-1", "echo", "h1", "127.100.0.2")};
  msg::State no_apps = one_host();
  msg::State no_stats = one_host();  // neither socket nor stats port, one app without running instances
  no_stats.hosts[0].stats_port = 0;
  no_stats.hosts[0].haproxy_socket = "";
  no_stats.apps = {app("web", {{8080, 8000}})};
  for (const auto& [name, state] :
       std::vector<std::pair<std::string, msg::State>>{{"http apps sharing a port", with_socket(shared_port)},
                                                       {"tcp app", with_socket(tcp)},
                                                       {"no apps, stats socket and port", with_socket(no_apps)},
                                                       {"no stats at all", no_stats}}) {
    SCOPED_TRACE(name);
    const std::string cfg = rendered(state);
    if (!state.hosts[0].haproxy_socket.empty()) {
      EXPECT_NE(cfg.find("stats socket " + (dir_ / "haproxy.sock").string() + " "), std::string::npos) << cfg;
    }
    if (state.hosts[0].stats_port > 0) {
      EXPECT_NE(cfg.find("frontend stats"), std::string::npos) << cfg;
    }
    expect_haproxy_accepts(cfg);
  }
  EXPECT_NE(rendered(with_socket(shared_port)).find("use_backend app_api_9000 if path_app_api_9000"),
            std::string::npos);
  EXPECT_NE(rendered(with_socket(tcp)).find("hash-type consistent"), std::string::npos);
}

// `haproxy -c` does not check everything that starting does (file descriptor limits for maxconn, for
// one): run HAProxy on the default config for real, on ports the OS picks, until it listens.
TEST_F(RenderTest, HaproxyRunsTheDefaultConfig) {
  msg::State state;
  state.hosts = {host("h1", "127.0.0.1", free_port())};
  state.hosts[0].haproxy_socket = (dir_ / "haproxy.sock").string();
  const int http_port = free_port();
  const int tcp_port = free_port();
  state.apps = {app("web", {{http_port, 8000}}), app("echo", {{tcp_port, 7000}}, "tcp", "/", "source")};
  state.instances = {instance("web-1", "web", "h1", "127.100.0.2"), instance("echo-2", "echo", "h1", "127.100.0.3")};
  std::ofstream(dir_ / "run.cfg") << rendered(state);
  process::SpawnOptions options;
  options.argv = {kHaproxy, "-db", "-f", (dir_ / "run.cfg").string()};
  options.output_path = (dir_ / "run.out").string();
  auto pid = process::spawn(options);
  ASSERT_TRUE(pid.ok()) << pid.status().message();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool listening = false;
  while (!listening && !process::try_wait(*pid) && std::chrono::steady_clock::now() < deadline) {
    listening = accepts(http_port) && accepts(tcp_port) && accepts(state.hosts[0].stats_port) &&
                fs::exists(state.hosts[0].haproxy_socket);
    if (!listening) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const bool still_running = !process::try_wait(*pid).has_value();
  process::stop(*pid, 2000);
  EXPECT_TRUE(listening && still_running) << slurp(dir_ / "run.out");
}

TEST_F(RenderTest, CustomTemplateIsUsed) {
  const std::string tmpl =
      "# custom for {{host_id}}\n"
      "{{#frontends}}fe {{name}} {{mode}}{{#routes}} {{context_path}}->{{backend}}{{/routes}}\n{{/frontends}}"
      "{{#backends}}be {{name}}{{#servers}} {{name}}={{address}}:{{port}}{{/servers}}\n{{/backends}}";
  msg::State state = one_host();
  state.apps = {app("web", {{80, 8000}}), app("api", {{80, 9000}}, "http", "/api")};
  state.instances = {instance("web-1", "web", "h1", "127.100.0.2")};
  auto cfg = render(build_spec(state, state.hosts[0]), tmpl);
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  EXPECT_EQ(*cfg,
            "# custom for h1\n"
            "fe fe_80 http /api->app_api_9000 /->app_web_8000\n"
            "be app_api_9000\n"
            "be app_web_8000 web-1=127.100.0.2:8000\n");
  EXPECT_TRUE(check_template(tmpl).ok());
}

TEST_F(RenderTest, ValuesAreNotHtmlEscaped) {
  msg::LbSpec spec;
  spec.frontends = {{"fe_80", 80, "http", {{"/a&b", "app_x_1"}}}};
  auto cfg = render(spec, "{{#frontends}}{{#routes}}{{context_path}}{{/routes}}{{/frontends}}");
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(*cfg, "/a&b");
}

TEST_F(RenderTest, StandaloneSectionLinesLeaveNoBlankLines) {
  msg::LbSpec spec;
  spec.frontends = {{"fe_80", 80, "tcp", {{"/", "app_x_1"}}}};
  const std::string tmpl =
      "a\n  {{#frontends}}\n{{#http}}\nhttp\n{{/http}}\n  {{^http}}\nnot http {{name}}\n{{/http}}\n{{/frontends}}\n"
      "{{! a comment }}\n{{#backends}}\nnever\n{{/backends}}\nb {{#frontends}}{{port}}{{/frontends}}\n"
      "{{#frontends}}\n\nblank line above\n{{/frontends}}\n\n{{#backends}}\n{{/backends}}\nend\n";
  auto cfg = render(spec, tmpl);
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(*cfg, "a\nnot http fe_80\nb 80\n\nblank line above\n\nend\n");
  EXPECT_FALSE(render(spec, "a\x1f").ok());
}

TEST_F(RenderTest, BrokenTemplateIsAnError) {
  for (const std::string bad : {"{{#frontends}}never closed", "{{/backends}}", "{{#a}}{{/b}}", "{{unclosed"}) {
    auto cfg = render(msg::LbSpec{}, bad);
    EXPECT_FALSE(cfg.ok()) << bad;
    EXPECT_FALSE(check_template(bad).ok()) << bad;
  }
  EXPECT_FALSE(check_template("   \n").ok()) << "an empty config is no config";
}

TEST_F(RenderTest, DefaultTemplateIsTheFileInTheSourceTree) {
  EXPECT_EQ(default_template(), slurp(fs::path(PIER_LBGEN_SOURCE_DIR) / "haproxy.cfg.mustache"));
}

}  // namespace
}  // namespace pier::lbgen
