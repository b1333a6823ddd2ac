#include "cli/explain.h"

#include <cmath>
#include <ctime>
#include <sstream>

#include "cli/args.h"
#include "cli/listing.h"
#include "cli/metrics_client.h"
#include "common/validate.h"

namespace pier::cli {
namespace {

struct Flags {
  std::string app;
  std::string metrics_url = kDefaultMetricsUrl;
  std::string output = "table";
  int timeout_s = 5;
};

void add_flags(po::options_description& desc, Flags& f) {
  // clang-format off
  desc.add_options()
      ("app", po::value(&f.app), "app name")
      ("metrics-url", po::value(&f.metrics_url)->default_value(f.metrics_url),
       "pier-metrics' HTTP endpoint (PIER_METRICS_URL; dev.env's value with /metrics works too)")
      ("output,o", po::value(&f.output)->default_value(f.output), "table | json")
      ("timeout", po::value(&f.timeout_s)->default_value(f.timeout_s), "seconds to wait for pier-metrics");
  // clang-format on
}

const std::vector<std::string> kEnv = {"metrics-url"};

// Parses and checks the shared flags; returns an exit code when done (help or error).
std::optional<int> parse(const std::vector<std::string>& args, const po::options_description& desc,
                         const std::string& usage, Flags& f, const Io& io) {
  po::positional_options_description positional;
  positional.add("app", 1);
  if (auto code = exit_after_parse(parse_args(args, desc, &positional, kEnv), help_text(usage, desc), io)) return code;
  if (f.app.empty()) {
    io.err("error: APP is missing (see --help)");
    return kExitBadInput;
  }
  if (Status s = validate::dns_label("app", f.app); !s.ok()) {
    io.err("error: " + s.message());
    return kExitBadInput;
  }
  if (f.output != "table" && f.output != "json") {
    io.err("error: output: must be table or json");
    return kExitBadInput;
  }
  if (f.timeout_s <= 0) {
    io.err("error: timeout: must be above 0");
    return kExitBadInput;
  }
  return std::nullopt;
}

// GETs path; on failure prints why and sets `exit_code`.
std::optional<nlohmann::json> fetch(const Flags& f, const std::string& path, const Io& io, int& exit_code) {
  auto base = metrics_base_url(f.metrics_url);
  if (!base.ok()) {
    io.err("error: " + base.status().message());
    exit_code = kExitBadInput;
    return std::nullopt;
  }
  auto answer = metrics_get(*base, path, f.timeout_s * 1000LL);
  if (!answer.ok()) {
    io.err("error: " + answer.status().message());
    exit_code = kExitNotDone;
    return std::nullopt;
  }
  if (answer->status == 200) return std::move(answer->body);
  std::string why = answer->body.is_object() && answer->body.contains("error") && answer->body["error"].is_string()
                        ? answer->body["error"].get<std::string>()
                        : "HTTP " + std::to_string(answer->status);
  io.err("error: " + why + " (pier-metrics at " + *base + ")");
  // Unknown app, autoscaling off, bad parameter: the question was wrong. Anything else: not answered.
  const int s = answer->status;
  exit_code = (s == 400 || s == 404 || s == 409) ? kExitBadInput : kExitNotDone;
  return std::nullopt;
}

std::string number(const nlohmann::json& v) {
  if (!v.is_number()) return "-";
  const double d = v.get<double>();
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", d);
  return buf;
}

std::string text_of(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

int64_t int_of(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<int64_t>() : 0;
}

std::string reason(const nlohmann::json& d) {
  const std::string explanation = text_of(d, "explanation");
  const std::string head =
      std::to_string(int_of(d, "old")) + " -> " + std::to_string(int_of(d, "new")) + " (" + text_of(d, "rule") + "): ";
  return explanation.rfind(head, 0) == 0 ? explanation.substr(head.size()) : explanation;
}

}  // namespace

std::string format_utc(int64_t time_ms) {
  const time_t seconds = static_cast<time_t>(time_ms >= 0 ? time_ms / 1000 : (time_ms - 999) / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm);
  return buf;
}

std::string decisions_table(const nlohmann::json& decisions) {
  std::vector<std::vector<std::string>> rows = {{"TIME", "CHANGE", "RULE", "WHY"}};
  if (decisions.is_array())
    for (const auto& d : decisions) {
      const int64_t from = int_of(d, "old"), to = int_of(d, "new");
      rows.push_back({format_utc(int_of(d, "time_ms")),
                      from == to ? "hold " + std::to_string(from) : std::to_string(from) + " -> " + std::to_string(to),
                      text_of(d, "rule"), reason(d)});
    }
  return format_table(rows);
}

std::string dry_run_text(const nlohmann::json& a) {
  const int64_t from = int_of(a, "old"), to = int_of(a, "new");
  std::string out = text_of(a, "app") + ": " +
                    (from == to ? "would hold at " + std::to_string(from)
                                : "would scale " + std::to_string(from) + " -> " + std::to_string(to)) +
                    " (" + text_of(a, "rule") + ")\n";
  out += "  why:    " + reason(a) + "\n";
  if (a.contains("inputs") && a["inputs"].is_object() && !a["inputs"].empty()) {
    std::string inputs;
    for (const auto& [name, value] : a["inputs"].items())
      inputs += (inputs.empty() ? "" : ", ") + name + "=" + number(value);
    out += "  inputs: " + inputs + "\n";
  }
  out += "  at:     " + format_utc(int_of(a, "time_ms")) + " (dry run: nothing was sent)\n";
  return out;
}

int run_why(const std::vector<std::string>& args, const Io& io) {
  Flags f;
  int last = 10;
  po::options_description desc("pier why options");
  add_flags(desc, f);
  desc.add_options()("last,n", po::value(&last)->default_value(last), "how many recent decisions (1-1000)");
  const std::string usage =
      "usage: pier why APP [--last N] [options]\n\nPrints the autoscaler's recent decisions for APP, oldest first: "
      "each change, and each hold whose\nrule differs from the one before, with the rule that fired and why. Read "
      "from pier-metrics.\nExit codes: 0 listed, 1 pier-metrics unreachable, 2 bad input, unknown app or "
      "autoscaling off.";
  if (auto done = parse(args, desc, usage, f, io)) return *done;
  if (last < 1 || last > 1000) {
    io.err("error: last: must be from 1 to 1000");
    return kExitBadInput;
  }
  int exit_code = kExitOk;
  auto body = fetch(f, "/decisions?app=" + f.app + "&last=" + std::to_string(last), io, exit_code);
  if (!body) return exit_code;
  const auto& decisions = (*body)["decisions"];
  const bool enabled = body->value("autoscale_enabled", false);
  if (f.output == "json") {
    io.out(body->dump(2));
  } else if (decisions.is_array() && !decisions.empty()) {
    const std::string table = decisions_table(decisions);
    io.out(table.substr(0, table.size() - 1));
  }
  if (!decisions.is_array() || decisions.empty()) {
    if (!enabled) {
      io.err("error: autoscaling is not enabled for app " + f.app);
      return kExitBadInput;
    }
    if (f.output == "table") io.out(f.app + ": no decisions yet");
  } else if (!enabled) {
    io.err("note: autoscaling is not enabled for app " + f.app + " now");
  }
  return kExitOk;
}

int run_autoscale(const std::vector<std::string>& args, const Io& io) {
  Flags f;
  bool dry_run = false;
  po::options_description desc("pier autoscale options");
  add_flags(desc, f);
  desc.add_options()("dry-run", po::bool_switch(&dry_run), "print what the autoscaler would do now and why");
  const std::string usage =
      "usage: pier autoscale APP --dry-run [options]\n\nAsks pier-metrics what its autoscaler would decide for APP "
      "now (the same decide() it runs every\ninterval), without sending or storing anything. Exit codes: 0 "
      "answered, 1 pier-metrics unreachable,\n2 bad input, unknown app or autoscaling off.";
  if (auto done = parse(args, desc, usage, f, io)) return *done;
  if (!dry_run) {
    io.err("error: pier autoscale needs --dry-run (the policy itself is set with pier deploy)");
    return kExitBadInput;
  }
  int exit_code = kExitOk;
  auto body = fetch(f, "/autoscale/dry-run?app=" + f.app, io, exit_code);
  if (!body) return exit_code;
  if (f.output == "json") {
    io.out(body->dump(2));
  } else {
    const std::string text = dry_run_text(*body);
    io.out(text.substr(0, text.size() - 1));
  }
  return kExitOk;
}

}  // namespace pier::cli
