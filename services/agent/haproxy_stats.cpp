#include "services/agent/haproxy_stats.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>

namespace pier::agent {
namespace {

// Fields of one CSV line. HAProxy quotes a field only when it holds a comma or a quote ("" inside).
std::vector<std::string_view> split_csv(std::string_view line, std::string& unquoted_storage) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i <= line.size()) {
    if (i < line.size() && line[i] == '"') {
      // Rare: copy the unquoted text aside (reserved up front so views stay valid).
      const std::size_t start = unquoted_storage.size();
      ++i;
      while (i < line.size()) {
        if (line[i] == '"' && i + 1 < line.size() && line[i + 1] == '"') {
          unquoted_storage.push_back('"');
          i += 2;
        } else if (line[i] == '"') {
          ++i;
          break;
        } else {
          unquoted_storage.push_back(line[i++]);
        }
      }
      fields.push_back(std::string_view(unquoted_storage).substr(start));
      while (i < line.size() && line[i] != ',') ++i;
    } else {
      const std::size_t comma = std::min(line.find(',', i), line.size());
      fields.push_back(line.substr(i, comma - i));
      i = comma;
    }
    ++i;  // past the comma (or the end)
  }
  return fields;
}

int64_t number(std::string_view text) {
  int64_t value = -1;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return -1;
  return value;
}

}  // namespace

Result<std::vector<StatRow>> parse_show_stat(std::string_view csv) {
  std::vector<StatRow> rows;
  std::map<std::string, std::size_t> column;
  bool header = false;
  std::size_t pos = 0;
  while (pos < csv.size()) {
    std::size_t end = csv.find('\n', pos);
    if (end == std::string_view::npos) end = csv.size();
    std::string_view line = csv.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    std::string storage;
    storage.reserve(line.size());
    if (!header) {
      if (line.rfind("# ", 0) != 0) return Status::Error("show stat: no '# pxname,svname,...' header");
      const auto names = split_csv(line.substr(2), storage);
      for (std::size_t i = 0; i < names.size(); ++i)
        if (!names[i].empty()) column.emplace(std::string(names[i]), i);
      for (const char* required : {"pxname", "svname", "type"})
        if (!column.count(required)) return Status::Error(std::string("show stat: no '") + required + "' column");
      header = true;
      continue;
    }
    const auto fields = split_csv(line, storage);
    const auto field = [&](const char* name) -> std::string_view {
      auto it = column.find(name);
      return it == column.end() || it->second >= fields.size() ? std::string_view() : fields[it->second];
    };
    StatRow row;
    row.proxy = std::string(field("pxname"));
    row.server = std::string(field("svname"));
    row.type = static_cast<int>(number(field("type")));
    row.scur = number(field("scur"));
    row.stot = number(field("stot"));
    row.req_tot = number(field("req_tot"));
    row.hrsp_5xx = number(field("hrsp_5xx"));
    row.rtime = number(field("rtime"));
    row.status = std::string(field("status"));
    row.check_status = std::string(field("check_status"));
    rows.push_back(std::move(row));
  }
  if (!header) return Status::Error("show stat: empty answer");
  return rows;
}

std::vector<std::string> servers_up(const std::vector<StatRow>& rows, const std::vector<std::string>& previous) {
  std::map<std::string, bool> up;  // instance -> every checked row of it up
  for (const auto& row : rows) {
    if (row.type != 2 || instance_of_server(row.server) != row.server) continue;
    std::string_view check = row.check_status;
    if (check.rfind("* ", 0) == 0) check.remove_prefix(2);
    const bool passed = check.size() > 2 && check.substr(check.size() - 2) == "OK";
    const bool row_up =
        check == "INI"  // no check done yet: a fresh worker shows "UP 1/3", which says nothing of the server
            ? row.status.rfind("UP", 0) == 0 && std::binary_search(previous.begin(), previous.end(), row.server)
            : row.status.rfind("UP", 0) == 0 && row.status.find('/') == std::string::npos && passed;
    auto [it, fresh] = up.emplace(row.server, row_up);
    if (!fresh) it->second = it->second && row_up;
  }
  std::vector<std::string> out;
  for (const auto& [instance, is_up] : up)
    if (is_up) out.push_back(instance);
  return out;
}

std::string app_of_backend(std::string_view backend) {
  constexpr std::string_view kPrefix = "app_";
  if (backend.substr(0, kPrefix.size()) != kPrefix) return {};
  const auto underscore = backend.rfind('_');
  if (underscore < kPrefix.size() + 1 || underscore + 1 >= backend.size()) return {};
  for (char c : backend.substr(underscore + 1))
    if (c < '0' || c > '9') return {};
  return std::string(backend.substr(kPrefix.size(), underscore - kPrefix.size()));
}

std::string instance_of_server(std::string_view server) {
  constexpr std::string_view kSuffix = msg::kFailOpenSuffix;
  if (server.size() > kSuffix.size() && server.substr(server.size() - kSuffix.size()) == kSuffix)
    server.remove_suffix(kSuffix.size());
  return std::string(server);
}

std::optional<LoggedRequest> parse_request_log_line(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == '\0')) line.remove_suffix(1);
  // client, [date], frontend, backend/server, TR/Tw/Tc/Tr/Ta, status: the first six words.
  std::vector<std::string_view> words;
  std::size_t pos = 0;
  while (words.size() < 6 && pos < line.size()) {
    while (pos < line.size() && line[pos] == ' ') ++pos;
    const std::size_t end = std::min(line.find(' ', pos), line.size());
    if (end > pos) words.push_back(line.substr(pos, end - pos));
    pos = end;
  }
  if (words.size() < 6 || words[1].empty() || words[1].front() != '[') return std::nullopt;
  const auto slash = words[3].find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 >= words[3].size()) return std::nullopt;
  std::vector<int64_t> timers;
  for (std::string_view rest = words[4];;) {
    const auto next = rest.find('/');
    timers.push_back(number(rest.substr(0, next)));
    if (next == std::string_view::npos) break;
    rest = rest.substr(next + 1);
  }
  // A failed timer parses as -1, as HAProxy writes for phases never reached.
  if (timers.size() != 5 || timers[4] < 0) return std::nullopt;
  const int64_t status = number(words[5]);
  if (status < 0 || status > 999) return std::nullopt;
  LoggedRequest request;
  request.backend = std::string(words[3].substr(0, slash));
  request.server = std::string(words[3].substr(slash + 1));
  request.active_ms = timers[4];
  request.status = static_cast<int>(status);
  return request;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(values.size()) - 1e-9));
  const std::size_t index = std::clamp<std::size_t>(rank, 1, values.size()) - 1;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(index), values.end());
  return values[index];
}

std::vector<msg::AppRequestSample> RequestFigures::update(const std::vector<StatRow>& rows,
                                                          const std::vector<LoggedRequest>& logged, int64_t steady_ms) {
  const int64_t elapsed = last_ms_ < 0 ? 0 : steady_ms - last_ms_;
  std::map<std::pair<std::string, std::string>, int64_t> counts;
  std::map<std::string, msg::AppRequestSample> apps;
  std::map<std::string, std::map<std::string, msg::ServerRequestSample>> servers;  // app -> instance -> figures
  for (const auto& row : rows) {
    if (row.type != 1 && row.type != 2) continue;
    const std::string app = app_of_backend(row.proxy);
    if (app.empty()) continue;
    double rate = 0;
    const int64_t count = row.req_tot >= 0 ? row.req_tot : row.stot;
    if (count >= 0) {
      const auto key = std::make_pair(row.proxy, row.server);
      counts[key] = count;
      auto before = last_count_.find(key);
      if (before != last_count_.end() && elapsed > 0)
        rate = static_cast<double>(count >= before->second ? count - before->second : count) * 1000.0 /
               static_cast<double>(elapsed);
    }
    const int64_t sessions = std::max<int64_t>(row.scur, 0);
    const int64_t errors = std::max<int64_t>(row.hrsp_5xx, 0);
    if (row.type == 1) {
      auto& a = apps[app];
      a.app = app;
      a.requests_per_second += rate;
      a.current_sessions += sessions;
      a.responses_5xx += errors;
      a.avg_response_ms = std::max(a.avg_response_ms, static_cast<double>(std::max<int64_t>(row.rtime, 0)));
    } else {
      auto& s = servers[app][instance_of_server(row.server)];
      s.instance = instance_of_server(row.server);
      s.requests_per_second += rate;
      s.current_sessions += sessions;
      s.responses_5xx += errors;
    }
  }
  std::map<std::string, std::vector<double>> latencies;
  for (const auto& request : logged) {
    const std::string app = app_of_backend(request.backend);
    if (apps.count(app)) latencies[app].push_back(static_cast<double>(request.active_ms));
  }
  std::vector<msg::AppRequestSample> out;
  for (auto& [name, a] : apps) {
    for (auto& [id, s] : servers[name]) a.servers.push_back(s);
    auto it = latencies.find(name);
    if (it != latencies.end()) {
      a.latency_samples = static_cast<int64_t>(it->second.size());
      a.p95_latency_ms = percentile(std::move(it->second), 0.95);
    }
    out.push_back(std::move(a));
  }
  last_count_ = std::move(counts);
  last_ms_ = steady_ms;
  return out;
}

}  // namespace pier::agent
