#include "cli/top.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <sstream>
#include <zmq.hpp>

#include "cli/args.h"
#include "cli/listing.h"
#include "common/bus.h"
#include "common/codec.h"
#include "common/options.h"
#include "common/stop_signal.h"
#include "common/topics.h"

namespace pier::cli {
namespace {

bool present(double value) { return std::isfinite(value) && value >= 0; }

nlohmann::json figure_json(double value) { return present(value) ? nlohmann::json(value) : nlohmann::json(nullptr); }

struct Flags {
  bus::Endpoints endpoints;
  std::string output = "table";
  bool once = false;
  int timeout_s = 10;
};

constexpr int64_t kPollMs = 100;

}  // namespace

std::string format_figure(double value, int decimals) {
  if (!present(value)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

std::string top_table(const std::vector<msg::AppMetrics>& apps) {
  std::vector<std::vector<std::string>> rows = {{"APP", "WANTED", "RUNNING", "INSTANCES", "CPU%", "REQ/S", "P95MS"}};
  for (const auto& a : apps) {
    rows.push_back({a.app, std::to_string(a.replicas), std::to_string(a.running), std::to_string(a.instances),
                    format_figure(a.cpu_percent, 1), format_figure(a.requests_per_second, 1),
                    format_figure(a.p95_latency_ms, 0)});
  }
  return format_table(rows);
}

nlohmann::json top_json(const std::vector<msg::AppMetrics>& apps) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& a : apps) {
    out.push_back({{"app", a.app},
                   {"time_ms", a.time_ms},
                   {"replicas", a.replicas},
                   {"running", a.running},
                   {"instances", a.instances},
                   {"cpu_percent", figure_json(a.cpu_percent)},
                   {"requests_per_second", figure_json(a.requests_per_second)},
                   {"p95_latency_ms", figure_json(a.p95_latency_ms)}});
  }
  return out;
}

void TopBoard::update(const msg::AppMetrics& metrics, int64_t now_ms) {
  auto [it, added] = latest_.insert_or_assign(metrics.app, Seen{metrics, now_ms});
  if (!added) repeated_ = true;
  last_ms_ = now_ms;
}

bool TopBoard::round_complete(int64_t now_ms) const {
  return !latest_.empty() && (repeated_ || now_ms - last_ms_ >= quiet_ms_);
}

std::vector<msg::AppMetrics> TopBoard::apps(int64_t now_ms) const {
  std::vector<msg::AppMetrics> out;
  for (const auto& [name, seen] : latest_)
    if (now_ms - seen.at_ms <= forget_ms_) out.push_back(seen.metrics);
  return out;
}

int run_top(const std::vector<std::string>& args, const Io& io) {
  Flags f;
  po::options_description desc("pier top options");
  options::add_bus(desc, f.endpoints);
  // clang-format off
  desc.add_options()
      ("output,o", po::value(&f.output)->default_value(f.output), "table | json")
      ("once", po::bool_switch(&f.once), "print one table after the first round of figures and exit")
      ("timeout", po::value(&f.timeout_s)->default_value(f.timeout_s),
       "with --once: seconds to wait for figures (pier-metrics sends them every autoscale interval, 5 s)");
  // clang-format on
  const std::string usage =
      "usage: pier top [--once] [--output table|json] [options]\n\nShows each app's figures as pier-metrics "
      "publishes them (metrics.app.<app>): replicas wanted and\nrunning, instances measured, average CPU % of one "
      "core, requests/s, p95 latency (\"-\": not measured).\nLive until Ctrl-C; with --once, one table and exit. "
      "Exit codes: 0 shown, 1 no figures within the\ntimeout (--once), 2 bad input.";
  // top takes no positional word: one is an error, not a live view that ignores it.
  std::vector<std::string> extra;
  po::options_description all = desc;
  all.add_options()("extra", po::value(&extra));
  po::positional_options_description positional;
  positional.add("extra", -1);
  auto parsed = parse_args(args, all, &positional, {"bus-pub", "bus-sub", "curve-secret", "bus-public-key"});
  if (auto code = exit_after_parse(parsed, help_text(usage, desc), io)) return *code;
  if (!extra.empty()) {
    io.err("error: unexpected argument '" + extra[0] + "' (pier top takes no APP; see --help)");
    return kExitBadInput;
  }
  if (f.output != "table" && f.output != "json") {
    io.err("error: output: must be table or json");
    return kExitBadInput;
  }
  if (f.timeout_s <= 0) {
    io.err("error: timeout: must be a positive number of seconds");
    return kExitBadInput;
  }

  SystemClock clock;
  zmq::context_t context;
  bus::Subscriber subscriber(context, f.endpoints, {std::string(topic::kAppMetricsPrefix)});
  TopBoard board;
  const auto show = [&](const std::vector<msg::AppMetrics>& apps, bool live) {
    if (f.output == "json") {
      io.out(live ? top_json(apps).dump() : top_json(apps).dump(2));  // live: one line per refresh
      return;
    }
    std::string table = top_table(apps);
    table.pop_back();
    if (live && ::isatty(STDOUT_FILENO)) table = "\x1b[H\x1b[2J" + table;  // redraw in place
    io.out(table);
    if (live && !::isatty(STDOUT_FILENO)) io.out("");
  };

  if (f.once) {
    const int64_t deadline = clock.steady_ms() + f.timeout_s * 1000LL;
    while (!board.round_complete(clock.steady_ms()) && clock.steady_ms() < deadline) {
      auto envelope = subscriber.receive(static_cast<int>(std::min<int64_t>(kPollMs, deadline - clock.steady_ms())));
      if (!envelope) continue;
      auto metrics = codec::decode<msg::AppMetrics>(envelope->body);
      if (!metrics.ok()) {
        subscriber.reject(*envelope, metrics.status());
        continue;
      }
      board.update(*metrics, clock.steady_ms());
    }
    if (board.empty()) {
      io.err("error: no app figures from pier-metrics within " + std::to_string(f.timeout_s) +
             "s (is pier-metrics running, with the bus at " + f.endpoints.sub + ", and is any app deployed?)");
      return kExitNotDone;
    }
    show(board.apps(clock.steady_ms()), false);
    return kExitOk;
  }

  // Live: redraw once a burst of messages has settled (or an app is forgotten), not once per message.
  stop_signal::install();
  std::string drawn;
  bool waiting_note = false;
  const int64_t started = clock.steady_ms();
  while (!stop_signal::requested()) {
    auto envelope = subscriber.receive(static_cast<int>(kPollMs));
    if (envelope) {
      auto metrics = codec::decode<msg::AppMetrics>(envelope->body);
      if (metrics.ok())
        board.update(*metrics, clock.steady_ms());
      else
        subscriber.reject(*envelope, metrics.status());
      continue;
    }
    const int64_t now = clock.steady_ms();
    if (board.empty()) {
      if (!waiting_note && now - started >= f.timeout_s * 1000LL) {
        io.err("note: no app figures yet from pier-metrics (bus at " + f.endpoints.sub + "); still waiting");
        waiting_note = true;
      }
      continue;
    }
    const auto apps = board.apps(now);
    const std::string key = top_json(apps).dump();
    if (key == drawn) continue;
    drawn = key;
    show(apps, true);
  }
  return kExitOk;
}

}  // namespace pier::cli
