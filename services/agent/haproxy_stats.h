// Per-app request figures from this host's HAProxy, as pure functions of its text: the CSV of `show
// stat` (rates, sessions, 5xx, average response time) and the lines of its request log (latency of
// each request, for a real p95). No I/O: request_log.h reads the log, the Runtime API client the stats.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "common/messages.h"
#include "common/status.h"

namespace pier::agent {

// What `show stat -1 6 -1` asks for: backends (2) and servers (4) of every proxy.
inline constexpr char kShowStatCommand[] = "show stat -1 6 -1";

// One row of `show stat`. Counters HAProxy leaves empty are -1.
struct StatRow {
  std::string proxy;     // pxname: the backend
  std::string server;    // svname: a server name, or BACKEND
  int type = -1;         // 0 frontend, 1 backend, 2 server, 3 listener
  int64_t scur = -1;     // current sessions
  int64_t stot = -1;     // cumulative sessions
  int64_t req_tot = -1;  // cumulative HTTP requests (empty in tcp mode)
  int64_t hrsp_5xx = -1;
  int64_t rtime = -1;        // average response time over the last 1024 requests, ms
  std::string status;        // UP, DOWN, "UP 1/3" (going down), "DOWN 1/2" (going up), MAINT, "no check"
  std::string check_status;  // the last check's result: L4OK, L7OK, L4CON, L7STS, ...; "* " while one runs
};

// The rows of `show stat` CSV; columns are found by the header's names, so their order does not
// matter. An Error when there is no header or it lacks pxname, svname or type.
Result<std::vector<StatRow>> parse_show_stat(std::string_view csv);

// The instances whose servers this HAProxy's own checks find answering: every checked server row of
// the instance (one per backend it serves) has status UP and a last check that passed (L4OK, L6OK,
// L7OK). Fail-open twins (unchecked) are ignored. Sorted.
// A row UP whose check has not run yet (INI: a worker that a reload just started, which shows its
// servers "UP 1/3" until their first check) keeps what the previous reading said of its instance
// (`previous`, sorted), so that a reload does not make every server look down until its first check.
std::vector<std::string> servers_up(const std::vector<StatRow>& rows, const std::vector<std::string>& previous = {});

// "app_<app>_<internal port>" (lbgen's backend names) -> "<app>"; empty for any other name.
std::string app_of_backend(std::string_view backend);
// A server name -> the instance id it serves (the fail-open twin "<id>_failopen" serves <id>).
std::string instance_of_server(std::string_view server);

// One request as HAProxy logged it.
struct LoggedRequest {
  std::string backend;
  std::string server;     // "<NOSRV>" when none was chosen
  int64_t active_ms = 0;  // %Ta: from the whole request received to the last byte of the response
  int status = 0;
};

// A line of HAProxy's `option httplog` format, sent raw (no syslog header):
//   127.0.0.1:43302 [25/Nov/2026:21:18:14.735] fe app_web_8000/web-1 0/0/0/1/1 200 692 - - ...
// nullopt for anything else: tcp sessions (tcplog: 3 timers), aborted requests (%Ta of -1), garbage.
std::optional<LoggedRequest> parse_request_log_line(std::string_view line);

// The p-th percentile (0 < p <= 1) by nearest rank: the smallest value with at least p of all at or
// below it. NaN when `values` is empty.
double percentile(std::vector<double> values, double p);

// Turns successive `show stat` readings and the requests logged in between into per-app figures.
// Rates come from the cumulative counters (req_tot, or stot for tcp) divided by the time between two
// readings; a counter that went down (a reload starts a worker with fresh counters, a deleted server
// comes back) counts from zero. Holds the previous reading: one owner.
class RequestFigures {
 public:
  // Figures for every app with a backend in `rows`, sorted by app (servers by instance). `logged`:
  // the requests logged since the previous call. The first call, and a backend or server seen for
  // the first time, has no rate yet (0).
  std::vector<msg::AppRequestSample> update(const std::vector<StatRow>& rows, const std::vector<LoggedRequest>& logged,
                                            int64_t steady_ms);

 private:
  std::map<std::pair<std::string, std::string>, int64_t> last_count_;  // (proxy, server) -> requests
  int64_t last_ms_ = -1;
};

}  // namespace pier::agent
