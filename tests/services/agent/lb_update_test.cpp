// plan_lb_update: which spec and text changes go through the Runtime API, and with which commands.
#include "services/agent/lb_update.h"

#include <gtest/gtest.h>

namespace pier::agent {
namespace {

msg::LbSpec spec(std::vector<msg::LbServer> web_servers, std::vector<msg::LbServer> api_servers = {}) {
  msg::LbSpec s;
  s.host_id = "h1";
  s.bind_address = "127.0.0.1";
  s.stats_socket = "/run/pier/haproxy.sock";
  s.stats_port = 8404;
  s.frontends = {{"fe_80", 80, "http", {{"/api", "app_api_9000"}, {"/", "app_web_8000"}}}};
  msg::LbBackend api;
  api.name = "app_api_9000";
  api.app = "api";
  api.mode = "http";
  api.algorithm = "leastconn";
  api.servers = std::move(api_servers);
  msg::LbBackend web;
  web.name = "app_web_8000";
  web.app = "web";
  web.mode = "http";
  web.algorithm = "roundrobin";
  web.health_path = "/healthz";
  web.check_inter_ms = 500;
  web.servers = std::move(web_servers);
  s.backends = {api, web};
  return s;
}

std::vector<std::string> lines(const LbUpdate& u) {
  std::vector<std::string> out;
  for (const auto& c : u.commands) out.push_back(c.line);
  return out;
}

// The specs' decision alone: both texts the same.
LbUpdate plan(const msg::LbSpec& running, const msg::LbSpec& next) { return plan_lb_update(running, "", next, ""); }

const msg::LbServer kWeb1{"web-1", "127.100.0.2", 8000};
const msg::LbServer kWeb2{"web-2", "127.100.0.3", 8000};
const msg::LbServer kWeb3{"web-3", "127.100.0.4", 8000};

TEST(LbUpdateTest, SameSpecNeedsNoCommand) {
  const LbUpdate u = plan(spec({kWeb1}), spec({kWeb1}));
  EXPECT_FALSE(u.reload);
  EXPECT_TRUE(u.commands.empty());
}

TEST(LbUpdateTest, NewServerIsAddedWithItsChecksThenEnabledUpWithItsFailOpenTwinInOneRoundTrip) {
  const LbUpdate u = plan(spec({kWeb1}), spec({kWeb1, kWeb2}));
  ASSERT_FALSE(u.reload) << u.reason;
  EXPECT_EQ(
      lines(u),
      (std::vector<std::string>{
          "add server app_web_8000/web-2 127.100.0.3:8000 check inter 500 fastinter 500 downinter 500 rise 2 fall 3 "
          "pool-max-conn -1 pool-purge-delay 5s; "
          "enable health app_web_8000/web-2; "
          "enable server app_web_8000/web-2; "
          "add server app_web_8000/web-2_failopen 127.100.0.3:8000 backup pool-max-conn -1 pool-purge-delay 5s; "
          "enable server app_web_8000/web-2_failopen",
      }));
  EXPECT_EQ(u.commands[0].expect, (std::vector<std::string>{"New server registered", "New server registered"}));
  EXPECT_FALSE(u.commands[0].retry_busy);
}

TEST(LbUpdateTest, ProxyProtocolServersAreAddedWithIt) {
  msg::LbSpec before = spec({kWeb1}), after = spec({kWeb1, kWeb2});
  before.backends[1].proxy_protocol = after.backends[1].proxy_protocol = true;
  const LbUpdate u = plan(before, after);
  ASSERT_FALSE(u.reload) << u.reason;
  ASSERT_EQ(u.commands.size(), 1u);
  EXPECT_NE(u.commands[0].line.find(
                "add server app_web_8000/web-2 127.100.0.3:8000 check inter 500 fastinter 500 downinter 500 rise "
                "2 fall 3 pool-max-conn -1 pool-purge-delay 5s send-proxy-v2; "),
            std::string::npos);
  EXPECT_NE(u.commands[0].line.find("add server app_web_8000/web-2_failopen 127.100.0.3:8000 backup pool-max-conn -1 "
                                    "pool-purge-delay 5s send-proxy-v2; "),
            std::string::npos);
  // Turning it on or off is a backend change: a reload.
  EXPECT_TRUE(plan(spec({kWeb1}), before).reload);
}

TEST(LbUpdateTest, GoneServerIsPutInMaintenanceThenDeletedWithItsTwin) {
  const LbUpdate u = plan(spec({kWeb1, kWeb2}), spec({kWeb2}));
  ASSERT_FALSE(u.reload) << u.reason;
  EXPECT_EQ(lines(u), (std::vector<std::string>{
                          "set server app_web_8000/web-1 state maint",
                          "del server app_web_8000/web-1",
                          "set server app_web_8000/web-1_failopen state maint",
                          "del server app_web_8000/web-1_failopen",
                      }));
  EXPECT_EQ(u.commands[0].expect, std::vector<std::string>{});
  EXPECT_EQ(u.commands[1].expect, std::vector<std::string>{"Server deleted"});
  EXPECT_TRUE(u.commands[1].retry_busy);
}

TEST(LbUpdateTest, AddsComeBeforeDeletesAndEveryBackendIsCovered) {
  const LbUpdate u = plan(spec({kWeb1}, {{"api-1", "127.100.0.9", 9000}}), spec({kWeb3}, {}));
  ASSERT_FALSE(u.reload) << u.reason;
  const auto l = lines(u);
  ASSERT_EQ(l.size(), 4u + 1u + 4u);
  EXPECT_EQ(l[0], "set server app_api_9000/api-1 state maint") << "backends in order: api first";
  EXPECT_EQ(
      l[4].rfind(
          "add server app_web_8000/web-3 127.100.0.4:8000 check inter 500 fastinter 500 downinter 500 rise 2 fall 3 "
          "pool-max-conn -1 pool-purge-delay 5s; ",
          0),
      0u);
  EXPECT_EQ(l[5], "set server app_web_8000/web-1 state maint");
}

TEST(LbUpdateTest, ServerWithANewAddressIsDeletedThenAddedAgain) {
  msg::LbServer moved = kWeb1;
  moved.address = "127.100.0.20";
  const LbUpdate u = plan(spec({kWeb1}), spec({moved}));
  ASSERT_FALSE(u.reload);
  const auto l = lines(u);
  ASSERT_EQ(l.size(), 5u);
  EXPECT_EQ(l[1], "del server app_web_8000/web-1");
  EXPECT_EQ(
      l[4].rfind(
          "add server app_web_8000/web-1 127.100.0.20:8000 check inter 500 fastinter 500 downinter 500 rise 2 fall 3 "
          "pool-max-conn -1 pool-purge-delay 5s; ",
          0),
      0u);
}

TEST(LbUpdateTest, StructuralChangesReload) {
  const msg::LbSpec base = spec({kWeb1});
  auto expect_reload = [&](msg::LbSpec next, const std::string& reason) {
    const LbUpdate u = plan(base, next);
    EXPECT_TRUE(u.reload) << reason;
    EXPECT_NE(u.reason.find(reason), std::string::npos) << u.reason;
    EXPECT_TRUE(u.commands.empty());
  };
  msg::LbSpec s = base;
  s.frontends.push_back({"fe_81", 81, "tcp", {{"/", "app_web_8000"}}});
  expect_reload(s, "frontends");
  s = base;
  s.frontends[0].routes[0].context_path = "/v2";
  expect_reload(s, "frontends");
  s = base;
  s.backends.pop_back();
  expect_reload(s, "backends added or removed");
  s = base;
  s.backends[0].name = "app_api_9001";
  expect_reload(s, "backends added or removed");
  s = base;
  s.backends[1].algorithm = "leastconn";
  expect_reload(s, "backend app_web_8000 changed");
  s = base;
  s.backends[1].mode = "tcp";
  expect_reload(s, "backend app_web_8000 changed");
  s = base;
  s.backends[1].health_path = "/";
  expect_reload(s, "backend app_web_8000 changed");
  s = base;
  s.backends[1].check_fall = 9;
  expect_reload(s, "backend app_web_8000 changed");
  s = base;
  s.stats_port = 9000;
  expect_reload(s, "host settings");
  s = base;
  s.bind_address = "127.0.0.2";
  expect_reload(s, "host settings");
}

TEST(LbUpdateTest, NoStatsSocketMeansReload) {
  msg::LbSpec running = spec({kWeb1});
  running.stats_socket.clear();
  msg::LbSpec next = running;
  next.backends[1].servers.push_back(kWeb2);
  const LbUpdate u = plan(running, next);
  EXPECT_TRUE(u.reload);
  EXPECT_NE(u.reason.find("stats socket"), std::string::npos);
}

TEST(LbUpdateTest, TheTextsDecideTooWhenTheSpecsAllowCommands) {
  const std::string text = "backend app_web_8000\n    balance roundrobin\n    server web-1 127.100.0.2:8000 check\n";
  const std::string with_web2 = text + "    server web-2 127.100.0.3:8000 check\n";
  // Servers change, and the text only in server lines: commands.
  LbUpdate u = plan_lb_update(spec({kWeb1}), text, spec({kWeb1, kWeb2}), with_web2);
  EXPECT_FALSE(u.reload) << u.reason;
  EXPECT_EQ(u.commands.size(), 1u);
  // Servers change, but so does a line outside them (a new template, say): a reload, no commands.
  u = plan_lb_update(spec({kWeb1}), text, spec({kWeb1, kWeb2}), "# new template\n" + with_web2);
  EXPECT_TRUE(u.reload);
  EXPECT_NE(u.reason.find("more than server lines"), std::string::npos) << u.reason;
  EXPECT_TRUE(u.commands.empty());
  // The same servers with other server lines (their options): only a reload applies them.
  u = plan_lb_update(spec({kWeb1}), text, spec({kWeb1}),
                     "backend app_web_8000\n    balance roundrobin\n"
                     "    server web-1 127.100.0.2:8000 check inter 9s\n");
  EXPECT_TRUE(u.reload);
  EXPECT_NE(u.reason.find("no server does"), std::string::npos) << u.reason;
  // The same servers and the same text: nothing to do.
  u = plan_lb_update(spec({kWeb1}), text, spec({kWeb1}), text);
  EXPECT_FALSE(u.reload);
  EXPECT_TRUE(u.commands.empty());
}

TEST(LbUpdateTest, SameOutsideServersIgnoresOnlyServerLines) {
  const std::string a = "global\n    maxconn 10\nbackend b\n    balance roundrobin\n    server x 1.2.3.4:80 check\n";
  const std::string b =
      "global\n    maxconn 10\nbackend b\n    balance roundrobin\n    server y 1.2.3.5:80 check\n"
      "    server y_failopen 1.2.3.5:80 backup\n";
  EXPECT_TRUE(same_outside_servers(a, b));
  EXPECT_TRUE(same_outside_servers("backend b\n", "backend b\n\tserver z 1.1.1.1:1\n"));
  EXPECT_FALSE(same_outside_servers(a, "global\n    maxconn 11\nbackend b\n    balance roundrobin\n"));
  EXPECT_FALSE(
      same_outside_servers("backend b\n    default-server inter 1\n", "backend b\n    default-server inter 2\n"));
  EXPECT_FALSE(same_outside_servers("a\n", "a\nb\n"));
}

TEST(LbUpdateTest, ServerStatesAreReadFromShowServersState) {
  const std::string answer =
      "1\n"
      "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
      "srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state "
      "srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port "
      "srv_check_addr srv_agent_addr srv_agent_port\n"
      "3 b 1 s1 127.0.0.55 2 0 1 1 0 1 0 2 6 0 0 0 - 18124 - 0 0 - - 0\n"
      "3 b 2 s1_failopen 127.0.0.55 2 0 1 1 0 1 0 0 0 0 0 0 - 18124 - 0 0 - - 0\n"
      "3 b 3 s2 127.0.0.56 0 0 1 1 3 15 3 4 6 0 0 0 - 18124 - 0 0 - - 0\n"
      "3 b 4 s3 127.0.0.57 2 1 1 1 3 15 3 4 6 0 0 0 - 18124 - 0 0 - - 0\n"
      "\n";
  const auto states = parse_server_states(answer);
  ASSERT_EQ(states.size(), 4u);
  EXPECT_EQ(states[0], (ServerState{"b", "s1", 2, 0}));
  EXPECT_TRUE(states[0].serving());
  EXPECT_EQ(states[1].name, "s1_failopen");
  EXPECT_FALSE(states[2].serving()) << "down";
  EXPECT_FALSE(states[3].serving()) << "in maintenance";
  EXPECT_TRUE(parse_server_states("No such backend.\n").empty());
  EXPECT_TRUE(parse_server_states("").empty());
}

TEST(LbUpdateTest, AnswerChecks) {
  const RuntimeCommand add{"add server b/s 1.2.3.4:80", {"New server registered"}, false};
  const RuntimeCommand enable{"enable server b/s", {}, false};
  EXPECT_TRUE(answer_ok(add, "New server registered.\n\n"));
  EXPECT_FALSE(answer_ok(add, "Already exists a server with the same name in backend.\n\n"));
  EXPECT_FALSE(answer_ok(add, ""));
  EXPECT_TRUE(answer_ok(enable, "\n"));
  EXPECT_TRUE(answer_ok(enable, "\n\n"));
  EXPECT_FALSE(answer_ok(enable, "No such server.\n\n"));
  // Several commands in one line: HAProxy 2.6's answers, as seen on its socket.
  const RuntimeCommand batch{
      "add server b/s 1.2.3.4:80; enable server b/s; add server b/t 1.2.3.4:80; enable server b/t",
      {"New server registered", "New server registered"},
      false};
  EXPECT_TRUE(answer_ok(batch, "New server registered.\n\n\n\nNew server registered.\n\n\n"));
  EXPECT_FALSE(answer_ok(batch, "New server registered.\n\nNo such server.\n\n\n")) << "a refusal among them";
  EXPECT_FALSE(answer_ok(batch, "New server registered.\n\n\n")) << "one missing";
  EXPECT_FALSE(answer_ok(batch, "New server registered.\n\n\n\nNew server registered.\n\nNo such server.\n"));
}

}  // namespace
}  // namespace pier::agent
