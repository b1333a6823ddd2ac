#include "services/lbgen/lb_spec.h"

#include <gtest/gtest.h>

#include "common/codec.h"
#include "tests/services/lbgen/state_builder.h"

namespace pier::lbgen {
namespace {

using testing::app;
using testing::host;
using testing::instance;

std::vector<std::string> server_names(const msg::LbBackend& backend) {
  std::vector<std::string> names;
  for (const auto& s : backend.servers) names.push_back(s.name);
  return names;
}

TEST(BuildSpec, CopiesTheHostFields) {
  msg::State state;
  state.hosts = {host("h1", "127.0.0.5", 9001)};
  msg::LbSpec spec = build_spec(state, state.hosts[0]);
  EXPECT_EQ(spec.host_id, "h1");
  EXPECT_EQ(spec.bind_address, "127.0.0.5");
  EXPECT_EQ(spec.stats_socket, "/run/pier/h1/haproxy.sock");
  EXPECT_EQ(spec.stats_port, 9001);
  EXPECT_TRUE(spec.frontends.empty());
  EXPECT_TRUE(spec.backends.empty());
}

TEST(BuildSpec, OneHttpAppGivesAFrontendAndABackendOfItsRunningInstances) {
  msg::State state;
  state.hosts = {host("h1")};
  state.apps = {app("web", {{8080, 8000}})};
  state.instances = {instance("web-2", "web", "h1", "127.100.0.3"),
                     instance("web-1", "web", "h1", "127.100.0.2"),
                     instance("web-3", "web", "h1", "127.100.0.4", "starting"),
                     instance("web-4", "web", "h1", "127.100.0.5", "failed"),
                     instance("web-5", "web", "", "", "pending"),
                     instance("web-6", "web", "h1", "", "running")};
  msg::LbSpec spec = build_spec(state, state.hosts[0]);
  ASSERT_EQ(spec.frontends.size(), 1u);
  EXPECT_EQ(spec.frontends[0].name, "fe_8080");
  EXPECT_EQ(spec.frontends[0].port, 8080);
  EXPECT_EQ(spec.frontends[0].mode, "http");
  ASSERT_EQ(spec.frontends[0].routes.size(), 1u);
  EXPECT_EQ(spec.frontends[0].routes[0].context_path, "/");
  EXPECT_EQ(spec.frontends[0].routes[0].backend, "app_web_8000");
  ASSERT_EQ(spec.backends.size(), 1u);
  const msg::LbBackend& be = spec.backends[0];
  EXPECT_EQ(be.name, "app_web_8000");
  EXPECT_EQ(be.app, "web");
  EXPECT_EQ(be.mode, "http");
  EXPECT_EQ(be.algorithm, "roundrobin");
  EXPECT_EQ(server_names(be), (std::vector<std::string>{"web-1", "web-2"})) << "running with an ip only, sorted";
  EXPECT_EQ(be.servers[0].address, "127.100.0.2");
  EXPECT_EQ(be.servers[0].port, 8000);
}

TEST(BuildSpec, OnlyAnAppWhosePolicyTargetsP95AsksForTheRequestLog) {
  msg::State state;
  state.hosts = {host("h1")};
  state.apps = {app("web", {{8080, 8000}}), app("api", {{8081, 8000}}), app("off", {{8082, 8000}})};
  state.apps[0].spec.autoscale.enabled = true;
  state.apps[0].spec.autoscale.targets = {{"cpu_percent", 70}, {"p95_latency_ms", 250}};
  state.apps[1].spec.autoscale.enabled = true;
  state.apps[1].spec.autoscale.targets = {{"requests_per_second", 50}};
  state.apps[2].spec.autoscale.targets = {{"p95_latency_ms", 250}};  // policy off
  std::map<std::string, bool> logged;
  for (const auto& backend : build_spec(state, state.hosts[0]).backends) logged[backend.app] = backend.request_log;
  EXPECT_EQ(logged, (std::map<std::string, bool>{{"api", false}, {"off", false}, {"web", true}}));
}

TEST(BuildSpec, RoutesLongestContextPathFirstWithTheDefaultLast) {
  msg::State state;
  state.hosts = {host("h1")};
  state.apps = {app("web", {{80, 8000}}), app("api", {{80, 9000}}, "http", "/api"),
                app("apiv2", {{80, 9000}}, "http", "/api/v2"), app("docs", {{80, 8000}}, "http", "/doc")};
  msg::LbSpec spec = build_spec(state, state.hosts[0]);
  ASSERT_EQ(spec.frontends.size(), 1u);
  std::vector<std::pair<std::string, std::string>> routes;
  for (const auto& r : spec.frontends[0].routes) routes.emplace_back(r.context_path, r.backend);
  EXPECT_EQ(
      routes,
      (std::vector<std::pair<std::string, std::string>>{
          {"/api/v2", "app_apiv2_9000"}, {"/api", "app_api_9000"}, {"/doc", "app_docs_8000"}, {"/", "app_web_8000"}}));
  ASSERT_EQ(spec.backends.size(), 4u);
  EXPECT_EQ(spec.backends[0].name, "app_api_9000");
  EXPECT_EQ(spec.backends[1].name, "app_apiv2_9000");
  EXPECT_EQ(spec.backends[2].name, "app_docs_8000");
  EXPECT_EQ(spec.backends[3].name, "app_web_8000");
}

TEST(BuildSpec, TcpAppGetsItsOwnFrontendWithOneRoute) {
  msg::State state;
  state.hosts = {host("h1")};
  state.apps = {app("db", {{5432, 5432}}, "tcp", "/", "leastconn")};
  state.instances = {instance("db-1", "db", "h1", "127.100.0.2")};
  msg::LbSpec spec = build_spec(state, state.hosts[0]);
  ASSERT_EQ(spec.frontends.size(), 1u);
  EXPECT_EQ(spec.frontends[0].mode, "tcp");
  ASSERT_EQ(spec.frontends[0].routes.size(), 1u);
  EXPECT_EQ(spec.frontends[0].routes[0].context_path, "/");
  EXPECT_EQ(spec.backends[0].mode, "tcp");
  EXPECT_EQ(spec.backends[0].algorithm, "leastconn");
}

TEST(BuildSpec, OneBackendPerPortMappingAndFrontendsSortedByPort) {
  msg::State state;
  state.hosts = {host("h1")};
  state.apps = {app("multi", {{9090, 9000}, {8080, 8000}})};
  state.instances = {instance("multi-1", "multi", "h1", "127.100.0.2")};
  msg::LbSpec spec = build_spec(state, state.hosts[0]);
  ASSERT_EQ(spec.frontends.size(), 2u);
  EXPECT_EQ(spec.frontends[0].port, 8080);
  EXPECT_EQ(spec.frontends[0].routes[0].backend, "app_multi_8000");
  EXPECT_EQ(spec.frontends[1].port, 9090);
  EXPECT_EQ(spec.frontends[1].routes[0].backend, "app_multi_9000");
  ASSERT_EQ(spec.backends.size(), 2u);
  EXPECT_EQ(spec.backends[0].servers[0].port, 8000);
  EXPECT_EQ(spec.backends[1].servers[0].port, 9000);
}

TEST(BuildSpec, TwoExternalPortsOnOneInternalPortShareTheBackend) {
  msg::State state;
  state.hosts = {host("h1")};
  state.apps = {app("web", {{80, 8000}, {8080, 8000}})};
  state.instances = {instance("web-1", "web", "h1", "127.100.0.2")};
  msg::LbSpec spec = build_spec(state, state.hosts[0]);
  ASSERT_EQ(spec.frontends.size(), 2u);
  ASSERT_EQ(spec.backends.size(), 1u);
  EXPECT_EQ(spec.backends[0].servers.size(), 1u);
}

TEST(BuildSpec, EveryHostGetsEveryRunningInstanceWhereverItRuns) {
  msg::State state;
  state.hosts = {host("h1", "127.0.0.1"), host("h2", "127.0.0.2")};
  state.apps = {app("web", {{80, 8000}})};
  state.instances = {instance("web-1", "web", "h1", "127.100.0.2"), instance("web-2", "web", "h2", "127.100.1.2")};
  msg::LbSpec one = build_spec(state, state.hosts[0]);
  msg::LbSpec two = build_spec(state, state.hosts[1]);
  EXPECT_EQ(one.bind_address, "127.0.0.1");
  EXPECT_EQ(two.bind_address, "127.0.0.2");
  EXPECT_EQ(server_names(one.backends[0]), (std::vector<std::string>{"web-1", "web-2"}));
  EXPECT_EQ(codec::encode(one.backends), codec::encode(two.backends));
  EXPECT_EQ(codec::encode(one.frontends), codec::encode(two.frontends));
}

TEST(BuildSpec, ConflictsKeepTheOlderAppAndReportTheOther) {
  msg::State state;
  state.hosts = {host("h1")};
  state.apps = {app("web", {{80, 8000}}),
                app("other", {{80, 8000}}),                    // same path "/"
                app("db", {{80, 5432}, {5432, 5432}}, "tcp"),  // tcp on an http port
                app("cache", {{6379, 6379}}, "tcp"),
                app("web2", {{6379, 80}}),              // http on a tcp port
                app("cache2", {{6379, 6380}}, "tcp")};  // tcp on a tcp port
  std::vector<Excluded> excluded;
  msg::LbSpec spec = build_spec(state, state.hosts[0], &excluded);
  ASSERT_EQ(spec.frontends.size(), 3u);
  EXPECT_EQ(spec.frontends[0].port, 80);
  ASSERT_EQ(spec.frontends[0].routes.size(), 1u);
  EXPECT_EQ(spec.frontends[0].routes[0].backend, "app_web_8000");
  EXPECT_EQ(spec.frontends[1].port, 5432);
  EXPECT_EQ(spec.frontends[1].routes[0].backend, "app_db_5432");
  EXPECT_EQ(spec.frontends[2].port, 6379);
  ASSERT_EQ(spec.frontends[2].routes.size(), 1u);
  EXPECT_EQ(spec.frontends[2].routes[0].backend, "app_cache_6379");
  std::vector<std::string> names;
  for (const auto& b : spec.backends) names.push_back(b.name);
  EXPECT_EQ(names, (std::vector<std::string>{"app_cache_6379", "app_db_5432", "app_web_8000"}))
      << "backends nobody routes to are left out";

  ASSERT_EQ(excluded.size(), 4u);
  EXPECT_EQ(excluded[0].app, "cache2");
  EXPECT_EQ(excluded[0].port, 6379);
  EXPECT_EQ(excluded[1].app, "db");
  EXPECT_EQ(excluded[1].port, 80);
  EXPECT_EQ(excluded[2].app, "other");
  EXPECT_NE(excluded[2].reason.find("context path / on port 80 is taken by web"), std::string::npos)
      << excluded[2].reason;
  EXPECT_EQ(excluded[3].app, "web2");
  EXPECT_NE(excluded[3].reason.find("taken by tcp app cache"), std::string::npos) << excluded[3].reason;
}

TEST(BuildSpec, InvalidAppsAndInstancesAreLeftOut) {
  msg::State state;
  state.hosts = {host("h1")};
  state.apps = {app("web", {{80, 8000}}), app("bad", {{81, 8000}}, "http", "/x\nfrontend evil"),
                app("Bad_Name", {{82, 8000}})};
  state.instances = {instance("web-1", "web", "h1", "127.100.0.2"),
                     instance("web-2", "web", "h1", "127.100.0.3 backup"),
                     instance("web 3", "web", "h1", "127.100.0.4")};
  std::vector<Excluded> excluded;
  msg::LbSpec spec = build_spec(state, state.hosts[0], &excluded);
  ASSERT_EQ(spec.frontends.size(), 1u);
  EXPECT_EQ(spec.frontends[0].port, 80);
  EXPECT_EQ(server_names(spec.backends[0]), (std::vector<std::string>{"web-1"}));
  EXPECT_EQ(excluded.size(), 4u);
}

TEST(BuildSpec, IsDeterministicWhateverTheInputOrder) {
  msg::State a;
  a.hosts = {host("h1")};
  a.apps = {app("web", {{80, 8000}}), app("api", {{80, 9000}}, "http", "/api"), app("db", {{5432, 5432}}, "tcp")};
  a.instances = {instance("web-1", "web", "h1", "127.100.0.2"), instance("api-2", "api", "h1", "127.100.0.3"),
                 instance("db-3", "db", "h1", "127.100.0.4"), instance("web-4", "web", "h1", "127.100.0.5")};
  msg::State b = a;
  std::reverse(b.instances.begin(), b.instances.end());
  std::swap(b.apps[1], b.apps[2]);  // no conflict here, so app order does not matter
  EXPECT_EQ(codec::encode(build_spec(a, a.hosts[0])), codec::encode(build_spec(b, b.hosts[0])));
}

TEST(CheckHost, RefusesFieldsThatWouldBreakAConfig) {
  EXPECT_TRUE(check_host(host("h1")).ok());
  msg::HostRecord h = host("h1");
  h.address = "";
  h.haproxy_socket = "";
  h.stats_port = 0;
  EXPECT_TRUE(check_host(h).ok()) << "empty fields are allowed";
  h = host("h1");
  h.haproxy_socket = "/tmp/a b.sock";
  EXPECT_EQ(check_host(h).field(), "haproxy_socket");
  h = host("h1");
  h.address = "127.0.0.1\nlisten x";
  EXPECT_EQ(check_host(h).field(), "address");
  h = host("h1");
  h.stats_port = 70000;
  EXPECT_EQ(check_host(h).field(), "stats_port");
  h = host("H 1");
  EXPECT_EQ(check_host(h).field(), "id");
}

}  // namespace
}  // namespace pier::lbgen
