#include "cli/listing.h"

#include <algorithm>
#include <cstdio>

#include "cli/liveness.h"
#include "common/lb_summary.h"
#include "common/reach.h"

namespace pier::cli {
namespace {

std::size_t display_width(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

std::string or_dash(const std::string& s) { return s.empty() ? "-" : s; }

// "2/2 reached", "1/2 reached (h3: connect timed out after 500 ms)", "-" without an overlay.
std::string peers_cell(const msg::HostRecord& h) {
  if (h.overlay.mode.empty()) return "-";
  int reached = 0;
  std::string missed;
  for (const auto& p : h.peers) {
    if (p.reachable) {
      ++reached;
    } else {
      missed += (missed.empty() ? "" : "; ") + p.host + ": " + or_dash(p.error);
    }
  }
  std::string cell = std::to_string(reached) + "/" + std::to_string(h.peers.size()) + " reached";
  return missed.empty() ? cell : cell + " (" + missed + ")";
}

}  // namespace

std::string format_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], display_width(row[i]));
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - display_width(row[i]) + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

std::string format_bytes(int64_t bytes) {
  static const char* kUnits[] = {"", "k", "m", "g", "t"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char buf[32];
  if (value == static_cast<double>(static_cast<int64_t>(value)))
    std::snprintf(buf, sizeof buf, "%lld%s", static_cast<long long>(value), kUnits[unit]);
  else
    std::snprintf(buf, sizeof buf, "%.1f%s", value, kUnits[unit]);
  return buf;
}

nlohmann::json instances_json(const msg::State& state, const std::string& app) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& i : state.instances) {
    if (!app.empty() && i.app != app) continue;
    out.push_back({{"id", i.id},
                   {"app", i.app},
                   {"host", i.host},
                   {"ip", i.ip},
                   {"state", i.state},
                   {"reason", i.reason},
                   {"pid", i.pid},
                   {"revision", i.revision},
                   {"unreachable_from", nlohmann::json::array()}});
  }
  for (const auto& f : reach::faults(state))
    for (auto& row : out)
      if (row["id"] == f.instance) row["unreachable_from"].push_back(f.host);
  return out;
}

std::string instances_table(const msg::State& state, const std::string& app) {
  std::vector<std::vector<std::string>> rows = {{"ID", "APP", "REV", "HOST", "IP", "STATE", "REASON"}};
  for (const auto& i : state.instances) {
    if (!app.empty() && i.app != app) continue;
    rows.push_back({i.id, i.app, i.revision == 0 ? "-" : std::to_string(i.revision), or_dash(i.host), or_dash(i.ip),
                    i.state, i.reason});
  }
  std::string text = format_table(rows);
  // Under the table: each app's rollout under way, or the last one that failed, and why; instances some
  // host cannot reach while others can.
  for (const auto& a : state.apps) {
    if (!app.empty() && a.spec.name != app) continue;
    if (const std::string line = rollout_line(a); !line.empty()) text += a.spec.name + ": " + line + "\n";
  }
  for (const auto& f : reach::faults(state))
    if (app.empty() || belongs_to(f.instance, app)) text += "overlay fault: " + reach::describe(f) + "\n";
  return text;
}

namespace {

// A host's HAProxy servers per app: [{app, listed, up, digest, down}] (from either form of LbStatus).
nlohmann::json lb_apps_json(const msg::LbStatus& lb) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& a : lb::apps(lb))
    out.push_back({{"app", a.app}, {"listed", a.listed}, {"up", a.up}, {"digest", a.digest}, {"down", a.down}});
  return out;
}

}  // namespace

nlohmann::json hosts_json(const msg::State& state) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& h : state.hosts) {
    out.push_back({{"id", h.id},
                   {"hostname", h.hostname},
                   {"address", h.address},
                   {"cpus", h.cpus},
                   {"memory_bytes", h.memory_bytes},
                   {"runtime", h.runtime},
                   {"subnet", h.subnet},
                   {"status", h.status},
                   {"last_seen_ms", h.last_seen_ms},
                   {"lb",
                    {{"hash", h.lb.hash},
                     {"servers", h.lb.servers},
                     {"error", h.lb.error},
                     {"reloads", h.lb.reloads},
                     {"runtime_updates", h.lb.runtime_updates},
                     {"servers_up", h.lb.servers_up},
                     {"reports_servers_up", h.lb.reports_servers_up},
                     {"apps", lb_apps_json(h.lb)}}},
                   {"overlay",
                    {{"mode", h.overlay.mode},
                     {"underlay", h.overlay.underlay},
                     {"vtep_mac", h.overlay.vtep_mac},
                     {"vni", h.overlay.vni},
                     {"port", h.overlay.port},
                     {"mtu", h.overlay.mtu},
                     {"probe_port", h.overlay.probe_port}}},
                   {"peers", nlohmann::json::array()}});
    for (const auto& p : h.peers)
      out.back()["peers"].push_back(
          {{"host", p.host}, {"reachable", p.reachable}, {"rtt_us", p.rtt_us}, {"error", p.error}});
  }
  // Hosts the registry refuses: status "refused", with why, and none of a registered host's figures.
  for (const auto& r : state.refused_hosts)
    out.push_back({{"id", r.host_id},
                   {"status", "refused"},
                   {"field", r.field},
                   {"reason", r.reason},
                   {"since_ms", r.since_ms},
                   {"last_seen_ms", r.last_ms}});
  return out;
}

std::string hosts_table(const msg::State& state, int64_t now_ms) {
  std::vector<std::vector<std::string>> rows = {
      {"ID", "HOSTNAME", "ADDRESS", "CPUS", "MEMORY", "RUNTIME", "SUBNET", "OVERLAY", "PEERS", "STATUS", "SEEN", "LB"}};
  for (const auto& h : state.hosts) {
    std::string seen = "-";
    if (h.last_seen_ms > 0) seen = std::to_string(std::max<int64_t>(0, now_ms - h.last_seen_ms) / 1000) + "s ago";
    int listed = 0, up = 0;
    for (const auto& a : lb::apps(h.lb)) {
      listed += a.listed;
      up += a.up;
    }
    std::string lb = std::to_string(listed) + " servers";
    if (!h.lb.hash.empty()) lb += ", cfg " + h.lb.hash.substr(0, 8);
    if (!h.lb.error.empty()) lb += ", error: " + h.lb.error;
    if (h.lb.reports_servers_up) lb += ", " + std::to_string(up) + " up";
    rows.push_back({h.id, or_dash(h.hostname), or_dash(h.address), std::to_string(h.cpus), format_bytes(h.memory_bytes),
                    or_dash(h.runtime), or_dash(h.subnet), or_dash(h.overlay.mode), peers_cell(h), h.status, seen, lb});
  }
  std::string text = format_table(rows);
  for (const auto& f : reach::faults(state)) text += "overlay fault: " + reach::describe(f) + "\n";
  for (const auto& r : state.refused_hosts)
    text += "refused: " + r.host_id + " (for " + std::to_string(std::max<int64_t>(0, now_ms - r.since_ms) / 1000) +
            "s, last heard " + std::to_string(std::max<int64_t>(0, now_ms - r.last_ms) / 1000) + "s ago): " + r.reason +
            "\n";
  return text;
}

}  // namespace pier::cli
