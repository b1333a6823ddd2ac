// The pure parsers of HAProxy's figures, on text recorded from HAProxy 2.6 (Debian 12).
#include "services/agent/haproxy_stats.h"

#include <gtest/gtest.h>

#include <cmath>

namespace pier::agent {
namespace {

// `show stat` of HAProxy 2.6.12 after four HTTP requests (three 200, one 404) to app_web_8000, with a
// tcp backend app_db_9000 and a fail-open twin.
const char* const kShowStat =
    R"(# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,
fe,FRONTEND,,,0,1,100,4,332,2576,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,0,0,4,,,,0,3,0,1,0,0,,0,4,4,,,0,0,0,0,,,,,,,,,,,,,,,,,,,,,http,,0,4,4,0,0,0,0,,,0,0,,,,,,,0,,,,,,,,,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,4,4,320,2676,0,0,
fet,FRONTEND,,,0,0,100,0,0,0,0,0,0,,,,,OPEN,,,,,,,,,1,3,0,,,,0,0,0,0,,,,,,,,,,,0,0,0,,,0,0,0,0,,,,,,,,,,,,,,,,,,,,,tcp,,0,0,0,,0,0,0,,,,,,,,,,,0,,,,,,,,,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
app_web_8000,web-1,0,0,0,1,,4,332,2576,,0,,0,0,0,0,UP,1,1,0,0,0,7,0,,1,4,1,,4,,2,0,,4,L4OK,,0,0,3,0,1,0,0,,,,4,0,0,,,,,6,,,0,0,2,2,,,,Layer4 check passed,,2,3,4,,,,127.0.0.1:18090,,http,,,,,,,,0,4,0,,,0,,0,0,4,4,0,0,0,0,1,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,
app_web_8000,web-1_failopen,0,0,0,0,,0,0,0,,0,,0,0,0,0,no check,1,0,1,,,7,,,1,4,2,,0,,2,0,,0,,,,0,0,0,0,0,0,,,,0,0,0,,,,,-1,,,0,0,0,0,,,,,,,,,,,,127.0.0.1:18090,,http,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,0,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,
app_web_8000,BACKEND,0,0,0,1,10,4,332,2576,0,0,,0,0,0,0,UP,1,1,1,,0,7,0,,1,4,0,,4,,1,0,,4,,,,0,3,0,1,0,0,,,,4,0,0,0,0,0,0,6,,,0,0,2,2,,,,,,,,,,,,,,http,roundrobin,,,,,,,0,4,0,0,0,,,0,0,4,4,0,,,,,1,0,0,0,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,4,4,2599,320,0,0,
app_db_9000,db-1,0,0,0,0,,0,0,0,,0,,0,0,0,0,no check,1,1,0,,,7,,,1,5,1,,0,,2,0,,0,,,,,,,,,,,,,,0,0,,,,,-1,,,0,0,0,0,,,,,,,,,,,,127.0.0.1:18090,,tcp,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,0,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,
app_db_9000,BACKEND,0,0,0,0,10,0,0,0,0,0,,0,0,0,0,UP,1,1,0,,0,7,0,,1,5,0,,0,,1,0,,0,,,,,,,,,,,,,,0,0,0,0,0,0,-1,,,0,0,0,0,,,,,,,,,,,,,,tcp,roundrobin,,,,,,,0,0,0,,,,,0,0,0,0,0,,,,,1,0,0,0,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
)";

TEST(ShowStat, ParsesRowsByColumnName) {
  auto rows = parse_show_stat(kShowStat);
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), 7u);
  const StatRow& backend = (*rows)[4];
  EXPECT_EQ(backend.proxy, "app_web_8000");
  EXPECT_EQ(backend.server, "BACKEND");
  EXPECT_EQ(backend.type, 1);
  EXPECT_EQ(backend.scur, 0);
  EXPECT_EQ(backend.stot, 4);
  EXPECT_EQ(backend.req_tot, 4);
  EXPECT_EQ(backend.hrsp_5xx, 0);
  EXPECT_EQ(backend.rtime, 2);
  const StatRow& server = (*rows)[2];
  EXPECT_EQ(server.server, "web-1");
  EXPECT_EQ(server.type, 2);
  EXPECT_EQ(server.req_tot, 4);
  const StatRow& tcp = (*rows)[5];
  EXPECT_EQ(tcp.proxy, "app_db_9000");
  EXPECT_EQ(tcp.req_tot, -1) << "empty in tcp mode";
  EXPECT_EQ(tcp.hrsp_5xx, -1);
  EXPECT_EQ((*rows)[0].type, 0);
}

TEST(ShowStat, ColumnsAreFoundByNameInAnyOrder) {
  auto rows = parse_show_stat("# type,svname,pxname,scur,hrsp_5xx,\n1,BACKEND,app_a_80,3,7,\n2,a-1,app_a_80,2,\n");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].proxy, "app_a_80");
  EXPECT_EQ((*rows)[0].scur, 3);
  EXPECT_EQ((*rows)[0].hrsp_5xx, 7);
  EXPECT_EQ((*rows)[1].hrsp_5xx, -1) << "a short row: the missing fields are empty";
  EXPECT_EQ((*rows)[1].req_tot, -1) << "no such column";
}

TEST(ShowStat, QuotedFieldsAndCrLf) {
  auto rows = parse_show_stat("# pxname,svname,check_desc,type,scur\r\napp_a_80,a-1,\"x, \"\"y\"\"\",2,5\r\n");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].type, 2);
  EXPECT_EQ((*rows)[0].scur, 5);
}

TEST(ShowStat, GarbageIsAnErrorOrEmptyNumbers) {
  EXPECT_FALSE(parse_show_stat("").ok());
  EXPECT_FALSE(parse_show_stat("Unknown command\n").ok());
  EXPECT_FALSE(parse_show_stat("# pxname,svname\nx,y\n").ok()) << "no type column";
  auto rows = parse_show_stat("# pxname,svname,type,scur\napp_a_80,BACKEND,1,12abc\n");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ((*rows)[0].scur, -1);
}

TEST(ShowStat, ServersUpAreThoseWhoseEveryCheckedRowPassed) {
  auto rows = parse_show_stat(kShowStat);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ((*rows)[2].status, "UP");
  EXPECT_EQ((*rows)[2].check_status, "L4OK");
  EXPECT_EQ(servers_up(*rows), std::vector<std::string>{"web-1"}) << "db-1 has no check, the twin is ignored";
  const auto server = [](std::string proxy, std::string name, std::string status, std::string check) {
    StatRow r;
    r.proxy = std::move(proxy);
    r.server = std::move(name);
    r.type = 2;
    r.status = std::move(status);
    r.check_status = std::move(check);
    return r;
  };
  const std::vector<StatRow> mixed = {
      server("app_a_80", "a-1", "UP", "L7OK"),       server("app_a_81", "a-1", "UP", "* L4OK"),
      server("app_a_80", "a-2", "UP", "L7OK"),       server("app_a_81", "a-2", "DOWN", "L4CON"),
      server("app_a_80", "a-3", "UP 1/3", "L4TOUT"), server("app_a_80", "a-4", "DOWN 1/2", "L7OK"),
      server("app_a_80", "a-5", "MAINT", ""),        server("app_a_80", "a-1_failopen", "no check", ""),
  };
  EXPECT_EQ(servers_up(mixed), std::vector<std::string>{"a-1"})
      << "a-2 is down in one backend, a-3 failing, a-4 not up yet, a-5 in maintenance";

  // Just after a reload the new worker's servers are UP with no check run yet (INI): each keeps what
  // the previous reading said of it; a server new to this reading is not up before its first check.
  const std::vector<StatRow> reloaded = {
      server("app_a_80", "a-1", "UP", "INI"),   server("app_a_80", "a-2", "UP 1/3", "* INI"),
      server("app_a_80", "a-3", "UP", "INI"),   server("app_a_80", "a-4", "UP", "L7OK"),
      server("app_a_80", "a-5", "DOWN", "INI"),
  };
  EXPECT_EQ(servers_up(reloaded, {"a-1", "a-2", "a-5"}), (std::vector<std::string>{"a-1", "a-2", "a-4"}))
      << "a-5 is DOWN";
  EXPECT_EQ(servers_up(reloaded), std::vector<std::string>{"a-4"});
}

TEST(Names, BackendToAppAndServerToInstance) {
  EXPECT_EQ(app_of_backend("app_web_8000"), "web");
  EXPECT_EQ(app_of_backend("app_my-api_80"), "my-api");
  EXPECT_EQ(app_of_backend("stats"), "");
  EXPECT_EQ(app_of_backend("app__80"), "");
  EXPECT_EQ(app_of_backend("app_web_"), "");
  EXPECT_EQ(app_of_backend("app_web_8x"), "");
  EXPECT_EQ(app_of_backend("app_80"), "");
  EXPECT_EQ(instance_of_server("web-1"), "web-1");
  EXPECT_EQ(instance_of_server("web-1_failopen"), "web-1");
  EXPECT_EQ(instance_of_server("_failopen"), "_failopen");
}

TEST(RequestLogLine, ParsesHttplog) {
  auto r = parse_request_log_line(
      "127.0.0.1:43328 [25/Nov/2026:21:18:14.762] fe app_web_8000/web-1 0/0/0/4/17 503 500 - - ---- 1/1/0/0/0 0/0 "
      "\"GET /nope HTTP/1.1\"\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->backend, "app_web_8000");
  EXPECT_EQ(r->server, "web-1");
  EXPECT_EQ(r->active_ms, 17);
  EXPECT_EQ(r->status, 503);
  auto nosrv = parse_request_log_line(
      "127.0.0.1:1 [25/Nov/2026:21:18:14.762] fe app_web_8000/<NOSRV> 0/-1/-1/-1/0 503 217 - - SC-- 1/1/0/0/0 0/0 "
      "\"GET / HTTP/1.1\"");
  ASSERT_TRUE(nosrv);
  EXPECT_EQ(nosrv->server, "<NOSRV>");
}

TEST(RequestLogLine, RefusesOtherLines) {
  // tcplog (3 timers), an aborted request (Ta -1), a syslog header, garbage.
  EXPECT_FALSE(parse_request_log_line(
      "127.0.0.1:1 [25/Nov/2026:21:18:14.762] fet app_db_9000/db-1 0/0/5000 12 -- 1/1/0/0/0 0/0"));
  EXPECT_FALSE(
      parse_request_log_line("127.0.0.1:1 [25/Nov/2026:21:18:14.762] fe app_web_8000/web-1 0/0/0/-1/-1 -1 0 - - CH-- "
                             "1/1/0/0/0 0/0 \"GET /\""));
  EXPECT_FALSE(parse_request_log_line("<134>Nov 25 21:18:14 haproxy[1]: Connect from 127.0.0.1:1 to 127.0.0.1:2"));
  EXPECT_FALSE(parse_request_log_line(""));
  EXPECT_FALSE(parse_request_log_line("a [b c d/e 1/2/3/4/x 200"));
  EXPECT_FALSE(parse_request_log_line("a [b c de 1/2/3/4/5 200"));
  EXPECT_FALSE(parse_request_log_line("a [b c d/e 1/2/3/4/5 abc"));
}

TEST(Percentile, NearestRank) {
  EXPECT_TRUE(std::isnan(percentile({}, 0.95)));
  EXPECT_EQ(percentile({7}, 0.95), 7);
  std::vector<double> hundred;
  for (int i = 100; i >= 1; --i) hundred.push_back(i);
  EXPECT_EQ(percentile(hundred, 0.95), 95);
  EXPECT_EQ(percentile(hundred, 1.0), 100);
  EXPECT_EQ(percentile(hundred, 0.5), 50);
  EXPECT_EQ(percentile({1, 2, 3, 1000}, 0.95), 1000) << "4 values: the 95th is the largest";
  std::vector<double> twenty(19, 10.0);
  twenty.push_back(500);
  EXPECT_EQ(percentile(twenty, 0.95), 10) << "19 of 20 (95%) are at or below 10";
}

std::vector<StatRow> rows(int64_t web_backend, int64_t web1, int64_t web1_twin, int64_t db_sessions) {
  return {
      {"fe", "FRONTEND", 0, 5, 100, 100, 0, 0, "", ""},
      {"app_web_8000", "web-1", 2, 2, web1, web1, 1, 3, "", ""},
      {"app_web_8000", "web-1_failopen", 2, 1, web1_twin, web1_twin, 0, 0, "", ""},
      {"app_web_8000", "BACKEND", 1, 3, web_backend, web_backend, 1, 3, "", ""},
      {"app_web_8001", "BACKEND", 1, 1, 10, 10, 2, 9, "", ""},
      {"app_web_8001", "web-1", 2, 1, 10, 10, 2, 9, "", ""},
      {"app_db_9000", "db-1", 2, db_sessions, 50, -1, -1, 0, "", ""},
      {"app_db_9000", "BACKEND", 1, db_sessions, 50, -1, -1, 0, "", ""},
      {"stats", "BACKEND", 1, 0, 9, 9, 0, 0, "", ""},
  };
}

TEST(RequestFigures, RatesFromCountersBetweenReadings) {
  RequestFigures figures;
  auto first = figures.update(rows(100, 90, 10, 4), {}, 1000);
  ASSERT_EQ(first.size(), 2u) << "web and db; stats and frontends are not apps";
  EXPECT_EQ(first[0].app, "db");
  EXPECT_EQ(first[1].app, "web");
  EXPECT_EQ(first[1].requests_per_second, 0) << "no rate before a second reading";
  EXPECT_EQ(first[1].current_sessions, 4) << "both backends of the app";
  EXPECT_EQ(first[1].responses_5xx, 3);
  EXPECT_EQ(first[1].avg_response_ms, 9) << "the slowest backend's";
  EXPECT_EQ(first[1].latency_samples, 0);

  auto second = figures.update(rows(300, 270, 30, 6), {}, 3000);  // 2 s later
  ASSERT_EQ(second.size(), 2u);
  const auto& web = second[1];
  EXPECT_DOUBLE_EQ(web.requests_per_second, 100) << "(300 - 100) / 2 s, plus nothing on port 8001";
  ASSERT_EQ(web.servers.size(), 1u) << "the fail-open twin is the same instance";
  EXPECT_EQ(web.servers[0].instance, "web-1");
  EXPECT_DOUBLE_EQ(web.servers[0].requests_per_second, 100) << "(270-90 + 30-10) / 2 s";
  EXPECT_EQ(web.servers[0].current_sessions, 4);
  EXPECT_EQ(web.servers[0].responses_5xx, 3);
  const auto& db = second[0];
  EXPECT_DOUBLE_EQ(db.requests_per_second, 0) << "tcp: sessions counted, none new";
  EXPECT_EQ(db.current_sessions, 6);
  EXPECT_EQ(db.responses_5xx, 0);
}

TEST(RequestFigures, CounterResetCountsFromZero) {
  RequestFigures figures;
  figures.update(rows(1000, 1000, 0, 0), {}, 0);
  auto after_reload = figures.update(rows(40, 40, 0, 0), {}, 2000);
  EXPECT_DOUBLE_EQ(after_reload[1].requests_per_second, 20);
  auto same_time = figures.update(rows(80, 80, 0, 0), {}, 2000);
  EXPECT_DOUBLE_EQ(same_time[1].requests_per_second, 0) << "no time passed: no rate";
}

TEST(RequestFigures, P95OfLoggedRequestsPerApp) {
  RequestFigures figures;
  std::vector<LoggedRequest> logged;
  for (int i = 1; i <= 100; ++i) logged.push_back({i % 2 ? "app_web_8000" : "app_web_8001", "web-1", i, 200});
  logged.push_back({"stats", "<STATS>", 5000, 200});
  logged.push_back({"app_gone_80", "gone-1", 5000, 200});
  auto out = figures.update(rows(1, 1, 0, 0), logged, 0);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].latency_samples, 100) << "both backends of web; other backends ignored";
  EXPECT_EQ(out[1].p95_latency_ms, 95);
  EXPECT_EQ(out[0].latency_samples, 0);
  EXPECT_EQ(out[0].p95_latency_ms, 0);
}

}  // namespace
}  // namespace pier::agent
