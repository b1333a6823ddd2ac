// pier-fleet-bench: requests per second and p99 from the client through h1's HAProxy to instances on
// another host, over pier's overlay against the same namespaces routed by hand with plain routes, arms
// alternating round by round (see run.sh). Uses the fleet harness (tests/fleet/fleet.h).
//
// Placement: "far" (2 instances) is deployed while only h3's agent runs, each instance asking for 40 % of
// the host's memory, so that "near" (the same) deployed next fits only on h2; h1's agent starts last and
// runs nothing but its HAProxy. Plain routing, both ways: on h1 two /25 routes covering the instances'
// subnet (more specific than pier's /24, so they win whatever pier's metric) via the router (far) or h2
// (near), sourced from h1's overlay address (<subnet>.0, as pier's own routes are, so that HAProxy's
// pooled backend connections keep their address from arm to arm), and on the instances' host two /25
// routes covering h1's subnet back; /24 routes on the router. The /25 routes are removed for the
// overlay arm.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <boost/program_options.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "common/lb_summary.h"
#include "common/options.h"
#include "common/version.h"
#include "tests/fleet/fleet.h"

namespace po = boost::program_options;
using namespace pier;
using namespace pier::fleet;
using namespace std::chrono_literals;

namespace {

std::atomic<bool> g_stop{false};

struct Settings {
  int rounds = 5;
  int round_ms = 3000;
  int warmup_ms = 1000;
  int workers = 4;
  double paced_rate = 250;  // per worker, for kind "paced"
  std::vector<std::string> kinds = {"keepalive"};
  std::vector<std::string> modes = {"vxlan", "host-gw"};
  std::string backend = "haproxy";
};

struct App {
  std::string name;
  int port = 0;
  std::string host;    // where its instances run
  std::string subnet;  // that host's subnet ("10.212.3.0/24")
  std::string ip;      // one instance's address
};

struct Measure {
  std::string arm, kind;
  int round = 0;
  double rps = 0, p50 = 0, p99 = 0;
  int64_t failed = 0;
};

[[noreturn]] void fail(const std::string& why) {
  std::cerr << "pier-fleet-bench: " << why << "\n";
  throw std::runtime_error(why);
}

// "10.212.3.0/24" -> {"10.212.3.0/25", "10.212.3.128/25"}
std::vector<std::string> halves(const std::string& subnet) {
  const std::string net = subnet.substr(0, subnet.find('/'));
  const std::string head = net.substr(0, net.rfind('.') + 1);
  return {head + "0/25", head + "128/25"};
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

class Bench {
 public:
  Bench(Settings settings, std::string mode) : s_(std::move(settings)), mode_(std::move(mode)) {}

  // Brings the fleet up with the apps placed as described at the top; false when it cannot.
  void set_up() {
    auto made = Fleet::create();
    if (!made.ok()) fail("cannot make the fleet: " + made.status().message());
    fleet_ = std::move(*made);
    Fleet& f = *fleet_;
    if (!f.start_control()) fail("control did not start (" + f.dir() + ")");
    const bool with_far = mode_ != "host-gw";  // host-gw needs one L2 segment: h3 is across the router
    if (with_far) place("far", 8081, "h3");
    place("near", 8082, "h2");
    if (!f.start_agent("h1", mode_)) fail("h1's agent did not start: " + f.agent_log("h1"));
    std::vector<std::string> up = {"h1", "h2"};
    if (with_far) up.push_back("h3");
    if (!f.wait_for_hosts(up, 30s)) fail("hosts not up: " + f.hosts().dump());
    if (!wait_until([&] { return peers_reachable(f.hosts(), up); }, 30s))
      fail("peers not all reachable: " + f.hosts().dump(2));
    const auto ps = f.ps();
    const auto hosts = f.hosts();
    // pier's own routes on h1 (routed subnets), for the record: the plain arm's /25 routes beat them.
    std::istringstream routes(f.ip("h1", {"-4", "route", "show", "table", "main"}));
    for (std::string line; std::getline(routes, line);)
      if (line.rfind("10.212.", 0) == 0) std::cout << "[ fleet-bench ] " << mode_ << ": h1 route " << line << "\n";
    h1_subnet_ = host_record(hosts, "h1").value("subnet", "");
    h1_source_ = h1_subnet_.substr(0, h1_subnet_.find('/'));
    for (auto& app : apps_) {
      for (const auto& [id, host] : e2e::placement(ps, app.name))
        if (host != app.host) fail(app.name + ": instance " + id + " on " + host + ", not " + app.host);
      app.subnet = host_record(hosts, app.host).value("subnet", "");
      app.ip = instance_ips(ps, app.name).begin()->second;
      const auto ids = e2e::not_draining(ps, app.name);
      if (!wait_until(
              [&] {
                const auto on_h1 = lb_app(f.hosts(), "h1", app.name);
                return !on_h1.is_null() && on_h1.value("digest", "") == lb::servers_digest({ids.begin(), ids.end()}) &&
                       on_h1.value("up", 0) == on_h1.value("listed", -1);
              },
              30s))
        fail(app.name + ": h1's HAProxy never saw its servers UP: " + f.hosts().dump(2));
      if (app.host == "h3") f.ip("router", {"route", "replace", app.subnet, "via", address_of("h3")});
      f.ip("router", {"route", "replace", h1_subnet_, "via", address_of("h1")});
      std::cout << "[ fleet-bench ] " << mode_ << ": " << app.name << " on " << app.host << " (" << app.subnet
                << "), h1 routes it: " << route_on_h1(app) << "; back: " << route_back(app) << std::endl;
    }
  }

  // Every arm of every app, order swapped every round.
  void run(std::vector<Measure>& out) {
    for (const auto& kind : s_.kinds)
      for (int round = 1; round <= s_.rounds && !g_stop; ++round)
        for (const auto& app : apps_) {
          std::vector<bool> plain_first = {false, true};
          if (round % 2 == 0) std::reverse(plain_first.begin(), plain_first.end());
          for (bool plain : plain_first) {
            if (g_stop) return;
            out.push_back(measure(app, plain, kind, round));
            const auto& m = out.back();
            std::cout << "round " << round << " " << kind << " " << m.arm << " " << fixed(m.rps, 0) << " req/s  p50 "
                      << fixed(m.p50, 3) << " ms  p99 " << fixed(m.p99, 3) << " ms  failed " << m.failed << std::endl;
          }
        }
  }

 private:
  // Deploys `name` (2 instances, 40 % of a host's memory each) while `host` is the only new agent.
  void place(const std::string& name, int port, const std::string& host) {
    Fleet& f = *fleet_;
    if (!f.start_agent(host, mode_)) fail(host + "'s agent did not start: " + f.agent_log(host));
    if (!f.wait_for_hosts({host}, 30s)) fail(host + " not up: " + f.hosts().dump());
    const int64_t memory = host_record(f.hosts(), host).value("memory_bytes", int64_t{0});
    if (memory <= 0) fail(host + ": no memory figure");
    std::vector<std::string> command;
    if (s_.backend == "haproxy") {
      // An HAProxy answering a fixed 200 itself: a cheap backend, so that the network's cost shows.
      const std::string cfg = f.dir() + "/backend.cfg";
      std::ofstream(cfg) << "global\n    nbthread 1\ndefaults\n    mode http\n    timeout connect 5s\n"
                            "    timeout client 30s\n    timeout server 30s\nfrontend app\n"
                            "    bind \"${HOST}:${PORT}\"\n    http-request return status 200 content-type "
                            "text/plain string \"instance=${PIER_INSTANCE}\\n\"\n";
      command = {"--image", "haproxy", "--tag", "bench", "--command", "haproxy -f " + cfg};
    } else {
      command = {"--image", "pier/demo-app", "--tag", kVersion, "--command", "pier-demo-app"};
    }
    std::vector<std::string> args = {"deploy",
                                     "--name",
                                     name,
                                     "--port",
                                     std::to_string(port) + ":8000",
                                     "--replicas",
                                     "2",
                                     "--memory",
                                     std::to_string(memory * 4 / 10 >> 20) + "m",
                                     "--timeout",
                                     "60"};
    args.insert(args.end(), command.begin(), command.end());
    auto r = f.pier(args);
    if (r.exit_code != 0) fail("deploy " + name + ": " + r.output + r.error);
    apps_.push_back({name, port, host, "", ""});
  }

  std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }
  std::string route_on_h1(const App& app) {
    return first_line(fleet_->ip("h1", {"-4", "route", "get", app.ip, "from", h1_source_}));
  }
  std::string route_back(const App& app) {
    return first_line(fleet_->ip(app.host, {"-4", "route", "get", h1_source_, "from", app.ip}));
  }

  void set_plain(const App& app, bool on) {
    const std::string there = app.host == "h3" ? kRouterLan1 : address_of(app.host);
    const std::string back = app.host == "h3" ? kRouterLan2 : address_of("h1");
    for (const auto& half : halves(app.subnet)) {
      if (on)
        fleet_->ip("h1", {"route", "replace", half, "via", there, "dev", "eth0", "src", h1_source_});
      else
        fleet_->exec_in("h1", {"ip", "route", "del", half});  // absent already: fine
    }
    for (const auto& half : halves(h1_subnet_)) {
      if (on)
        fleet_->ip(app.host, {"route", "replace", half, "via", back, "dev", "eth0"});
      else
        fleet_->exec_in(app.host, {"ip", "route", "del", half});
    }
    const std::string to = route_on_h1(app), from = route_back(app);
    const bool plain = to.find("via " + there + " dev eth0") != std::string::npos &&
                       from.find("via " + back + " dev eth0") != std::string::npos;
    if (on && !plain) fail("plain arm, but h1 routes " + app.ip + ": " + to + "; and back: " + from);
    if (!on && mode_ == "vxlan" &&
        (to.find("pier-vxlan") == std::string::npos || from.find("pier-vxlan") == std::string::npos))
      fail("overlay arm, but h1 routes " + app.ip + ": " + to + "; and back: " + from);
  }

  Measure measure(const App& app, bool plain, const std::string& kind, int round) {
    set_plain(app, plain);
    loadgen::Options o;
    o.host = address_of("h1");
    o.port = app.port;
    o.keepalive_workers = kind == "fresh" ? 0 : s_.workers;
    o.fresh_workers = kind == "fresh" ? s_.workers : 0;
    if (kind == "paced") o.requests_per_second = s_.paced_rate;  // below saturation: latency, not capacity
    o.max_requests = 50'000'000;
    o.timeout_ms = 2000;
    o.max_duration_ms = s_.warmup_ms;  // the new path warmed up (pooled connections), not counted
    fleet_->start_load("client", o)->wait();
    o.max_duration_ms = s_.round_ms;
    const auto r = fleet_->start_load("client", o)->wait();
    if (plain) set_plain(app, false);
    Measure m;
    m.arm = app.name + "-" + (plain ? "plain@" + mode_ : mode_);  // plain in this fleet
    m.kind = kind;
    m.round = round;
    m.rps = r.requests_per_second;
    m.p50 = r.p50_ms;
    m.p99 = r.p99_ms;
    m.failed = r.failed();
    return m;
  }

  Settings s_;
  std::string mode_;
  std::unique_ptr<Fleet> fleet_;
  std::vector<App> apps_;
  std::string h1_subnet_;  // "10.212.1.0/24"
  std::string h1_source_;  // "10.212.1.0": h1's address on the overlay
};

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

void summarize(const std::vector<Measure>& all, const Settings& s) {
  std::vector<std::string> arms, kinds;
  for (const auto& m : all) {
    if (std::find(arms.begin(), arms.end(), m.arm) == arms.end()) arms.push_back(m.arm);
    if (std::find(kinds.begin(), kinds.end(), m.kind) == kinds.end()) kinds.push_back(m.kind);
  }
  auto column = [&](const std::string& arm, const std::string& kind, double Measure::*field) {
    std::vector<double> v;
    for (const auto& m : all)
      if (m.arm == arm && m.kind == kind) v.push_back(m.*field);
    return v;
  };
  std::cout << "\nmedian [range] over rounds of " << s.round_ms << " ms, " << s.workers
            << " clients; ratio overlay / plain of the medians\n";
  std::vector<std::string> rows;
  for (const auto& kind : kinds)
    for (const auto& arm : arms) {
      const auto rps = column(arm, kind, &Measure::rps), p99 = column(arm, kind, &Measure::p99);
      if (rps.empty()) continue;
      int64_t failed = 0;
      for (const auto& m : all)
        if (m.arm == arm && m.kind == kind) failed += m.failed;
      std::cout << "  " << kind << " " << arm << ": " << fixed(median(rps), 0) << " req/s ["
                << fixed(*std::min_element(rps.begin(), rps.end()), 0) << "-"
                << fixed(*std::max_element(rps.begin(), rps.end()), 0) << "]  p99 " << fixed(median(p99), 3) << " ms ["
                << fixed(*std::min_element(p99.begin(), p99.end()), 3) << "-"
                << fixed(*std::max_element(p99.begin(), p99.end()), 3) << "]  failed " << failed << "\n";
      const auto dash = arm.find('-');
      const std::string app = arm.substr(0, dash), mode = arm.substr(dash + 1);
      if (mode.rfind("plain@", 0) == 0) continue;
      const auto base_rps = column(app + "-plain@" + mode, kind, &Measure::rps);
      const auto base_p99 = column(app + "-plain@" + mode, kind, &Measure::p99);
      if (base_rps.empty()) continue;
      const double rps_ratio = median(rps) / median(base_rps), p99_ratio = median(p99) / median(base_p99);
      // The median of the ratios of the rounds run side by side (the machine's load drifts between rounds).
      std::vector<double> paired_rps, paired_p99;
      for (const auto& m : all) {
        if (m.arm != arm || m.kind != kind) continue;
        for (const auto& b : all)
          if (b.arm == app + "-plain@" + mode && b.kind == kind && b.round == m.round && b.rps > 0 && b.p99 > 0) {
            paired_rps.push_back(m.rps / b.rps);
            paired_p99.push_back(m.p99 / b.p99);
          }
      }
      std::cout << "[ fleet-bench ] " << kind << " " << app << " ("
                << (app == "far" ? "h1 -> router -> h3" : "h1 -> h2") << ") " << mode << " / plain: req/s "
                << fixed(rps_ratio, 3) << " (paired " << fixed(median(paired_rps), 3) << ", target >= 0.9), p99 "
                << fixed(p99_ratio, 3) << " (paired " << fixed(median(paired_p99), 3) << ", target <= 1.1)\n";
      rows.push_back("| DATE | " + app + " (" + (app == "far" ? "h1 → router → h3" : "h1 → h2, one LAN") + ") | " +
                     mode + " | " + std::to_string(s.workers) + " " +
                     (kind == "keepalive" ? "keep-alive"
                      : kind == "fresh"   ? "new-connection"
                                          : "keep-alive at " + fixed(s.paced_rate, 0) + " req/s") +
                     " | " + fixed(median(rps), 0) + " | " + fixed(median(base_rps), 0) + " | **" +
                     fixed(rps_ratio, 3) + "** (" + fixed(median(paired_rps), 3) + ") | " + fixed(median(p99), 2) +
                     " ms | " + fixed(median(base_p99), 2) + " ms | **" + fixed(p99_ratio, 3) + "** (" +
                     fixed(median(paired_p99), 3) + ") |");
    }
  std::cout << "\n| date | path | overlay | clients | overlay req/s | plain req/s | req/s ratio (>= 0.9) | overlay p99 "
               "| plain p99 | p99 ratio (<= 1.1) |\n|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& row : rows) std::cout << row << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  std::string kinds = "keepalive", modes = "vxlan,host-gw";
  po::options_description desc("pier-fleet-bench options");
  // clang-format off
  desc.add_options()
      ("rounds", po::value(&s.rounds)->default_value(s.rounds), "rounds per arm")
      ("round-ms", po::value(&s.round_ms)->default_value(s.round_ms), "length of one measurement")
      ("warmup-ms", po::value(&s.warmup_ms)->default_value(s.warmup_ms), "load before each measurement, not counted")
      ("workers", po::value(&s.workers)->default_value(s.workers), "clients, unpaced")
      ("kinds", po::value(&kinds)->default_value(kinds),
       "comma-separated: keepalive (unpaced, one connection per client), fresh (unpaced, a connection per request), "
       "paced (keep-alive at --paced-rate)")
      ("paced-rate", po::value(&s.paced_rate)->default_value(s.paced_rate), "requests per second per client, paced")
      ("modes", po::value(&modes)->default_value(modes), "overlays to measure: vxlan and/or host-gw")
      ("backend", po::value(&s.backend)->default_value(s.backend), "haproxy (a fixed 200) or demo (pier-demo-app)");
  // clang-format on
  options::parse_or_exit(argc, argv, desc, "pier-fleet-bench [options]   (as root: it makes network namespaces)");
  s.kinds = split(kinds);
  s.modes = split(modes);
  for (const auto& k : s.kinds)
    if (k != "keepalive" && k != "fresh" && k != "paced")
      return std::cerr << "kinds: keepalive, fresh or paced, not " << k << "\n", 2;
  for (const auto& m : s.modes)
    if (m != "vxlan" && m != "host-gw") return std::cerr << "modes: vxlan or host-gw, not " << m << "\n", 2;
  if (s.backend != "haproxy" && s.backend != "demo") return std::cerr << "backend: haproxy or demo\n", 2;
  if (s.rounds < 1 || s.round_ms < 100 || s.workers < 1)
    return std::cerr << "rounds, round-ms, workers: too small\n", 2;

  // SIGINT/SIGTERM end the run after the current measurement, so the fleet is removed; a second one
  // ends it at once (the next run removes what is left).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread([signals] {
    int sig = 0;
    sigwait(&signals, &sig);
    std::cerr << "pier-fleet-bench: stopping after this measurement\n";
    g_stop = true;
    sigwait(&signals, &sig);
    _exit(130);
  }).detach();

  std::vector<Measure> all;
  int code = 0;
  for (const auto& mode : s.modes) {
    if (g_stop) break;
    try {
      Bench bench(s, mode);
      bench.set_up();
      bench.run(all);
    } catch (const std::exception& e) {
      std::cerr << "pier-fleet-bench: " << mode << ": " << e.what() << "\n";
      code = 1;
    }
  }
  summarize(all, s);
  return code;
}
