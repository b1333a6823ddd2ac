// Load-balancing behaviour against the whole stack (exec runtime):
// - drain before stop: an instance that is no longer wanted leaves HAProxy, answers what it is
//   answering, and only then stops; meanwhile `pier ps` says `draining`, and the scale command is live
//   as soon as the instances that stay serve;
// - PROXY protocol v2 to a tcp app that asks for it;
// - under a bounded load: 100 scale events 2 <-> 6, a rolling redeploy, a new external port and an
//   algorithm change fail no request, and HAProxy reloads only for the two structural changes;
// - a redeploy whose instances never pass their health check is rolled back, failing no request, and
//   `pier deploy` and `pier ps` say why.
#include <gtest/gtest.h>

#include <cstdlib>
#include <future>
#include <thread>

#include "bench/loadgen/loadgen.h"
#include "tests/e2e/harness.h"

namespace pier::e2e {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

std::string state_of(const nlohmann::json& ps, const std::string& id) {
  if (ps.is_array())
    for (const auto& i : ps)
      if (i.value("id", "") == id) return i.value("state", "");
  return "";
}

std::string instance_in(const std::string& body) {
  const auto start = body.find("instance=");
  if (start == std::string::npos) return "";
  return body.substr(start + 9, body.find(' ', start) - start - 9);
}

TEST(DrainTest, AScaledInInstanceFinishesItsRequestsBeforeItStops) {
  Stack s;
  ASSERT_TRUE(s.wait_for_hosts()) << s.log("agent");
  const std::string app = "drain" + std::to_string(::getpid() % 100000);
  const int port = free_port();
  ASSERT_EQ(s.pier(deploy_args(app, port, 2)).exit_code, 0) << s.log("agent");
  ASSERT_TRUE(wait_until([&] { return distinct(answers(port, "/", 6)).size() == 2; }, 20s));
  const auto ids = instance_ids(s.ps(), app);
  const std::string newest = *ids.rbegin();  // scale-in takes the newest of the running ones

  // Two slow requests (1.5 s of CPU each, well inside http_get's 5 s even on a busy machine): round robin
  // gives one to each instance.
  auto slow = [&] { return http_get(port, "/work?ms=1500"); };
  auto first = std::async(std::launch::async, slow);
  std::this_thread::sleep_for(200ms);  // the load's shape, not synchronisation: the second goes next
  auto second = std::async(std::launch::async, slow);
  std::this_thread::sleep_for(300ms);

  loadgen::LoadGenerator load(steady_load(port, 25, 60'000));
  load.start();

  const auto scaled_at = Steady::now();
  auto scaled = s.pier({"scale", app, "1", "--timeout", "30"});
  ASSERT_EQ(scaled.exit_code, 0) << scaled.output << scaled.error;
  const auto live_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - scaled_at).count();
  // Live once the remaining instance serves alone, without waiting for the drain.
  EXPECT_LT(live_ms, 2500) << "the scale waited for the drain";
  const std::string while_draining = state_of(s.ps(), newest);
  EXPECT_EQ(while_draining, "draining") << s.ps().dump();

  // The draining instance answers its own slow request (its process was not stopped under it).
  std::set<std::string> answered_by;
  for (auto* request : {&first, &second}) {
    auto answer = request->get();
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(answer->status, 200);
    answered_by.insert(instance_in(answer->body));
  }
  EXPECT_EQ(answered_by, ids) << "each instance answered its slow request";

  // Then it stops and its row goes.
  EXPECT_TRUE(wait_until([&] { return state_of(s.ps(), newest).empty(); }, 10s)) << s.log("agent");
  EXPECT_TRUE(wait_until([&] { return processes_of_app(app) == 1; }, 5s));
  const auto report = load.stop();
  EXPECT_EQ(report.failed(), 0) << report.to_text();
  EXPECT_NE(s.log("agent").find("instance " + newest + " of app " + app + " on host"), std::string::npos);
  EXPECT_NE(s.log("agent").find("draining instance " + newest), std::string::npos) << s.log("agent");
  std::cout << "[ measured ] scale 2 -> 1 live after " << live_ms << " ms while " << newest
            << " drained its 1.5 s request; load " << report.to_text();
}

int64_t host_counter(const Stack& s, const char* name) {
  auto h = s.hosts();
  if (!h.is_array() || h.empty()) return -1;
  return h[0]["lb"].value(name, int64_t{-1});
}

TEST(ZeroDowntimeTest, ScaleEventsANewPortAndAnAlgorithmChangeUnderLoadFailNothing) {
  const int events = std::getenv("PIER_SCALE_EVENTS") ? std::atoi(std::getenv("PIER_SCALE_EVENTS")) : 100;
  Stack s;
  ASSERT_TRUE(s.wait_for_hosts()) << s.log("agent");
  const std::string app = "zd" + std::to_string(::getpid() % 100000);
  const int port = free_port();
  ASSERT_EQ(s.pier(deploy_args(app, port, 2)).exit_code, 0) << s.log("agent");
  ASSERT_TRUE(wait_until([&] { return distinct(answers(port, "/", 6)).size() == 2; }, 20s));

  loadgen::LoadGenerator load(steady_load(port));
  load.start();
  const int64_t reloads_before = host_counter(s, "reloads");
  const int64_t updates_before = host_counter(s, "runtime_updates");
  const auto started = Steady::now();
  for (int event = 0; event < events; ++event) {
    auto r = s.pier({"scale", app, event % 2 == 0 ? "6" : "2", "--timeout", "30"});
    ASSERT_EQ(r.exit_code, 0) << "scale event " << event << ": " << r.output << r.error << s.log("agent");
  }
  const auto scaled_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - started).count();
  const int64_t reloads_after_scaling = host_counter(s, "reloads");
  const int64_t updates_after_scaling = host_counter(s, "runtime_updates");
  EXPECT_EQ(reloads_after_scaling, reloads_before) << "scaling reloaded HAProxy";
  EXPECT_GE(updates_after_scaling - updates_before, events) << "every scale event went through the Runtime API";

  // A rolling redeploy (new environment: every instance is replaced, one at a time).
  const auto before_redeploy = instance_ids(s.ps(), app);
  auto redeploy_args = deploy_args(app, port, 2);
  redeploy_args.insert(redeploy_args.end(), {"--env", "RELEASE=2"});
  const auto rolling_started = Steady::now();
  auto rolled = s.pier(redeploy_args);
  ASSERT_EQ(rolled.exit_code, 0) << rolled.output << rolled.error << s.log("registry");
  const auto rolled_ms = ms_since(rolling_started);
  // The app's instances now (the replaced ones may still be draining: on their way out).
  const std::set<std::string> after_redeploy = not_draining(s.ps(), app);
  EXPECT_EQ(after_redeploy.size(), 2u);
  for (const auto& id : after_redeploy) EXPECT_EQ(before_redeploy.count(id), 0u) << id << " was not replaced";
  EXPECT_EQ(host_counter(s, "reloads"), reloads_before) << "a rolling redeploy changes servers only";

  // A new external port (the same instances): a structural change, one reload.
  const int second_port = free_port();
  auto args = deploy_args(app, port, 2);
  args.insert(args.end(), {"--port", std::to_string(second_port) + ":8000"});
  auto ported = s.pier(args);
  ASSERT_EQ(ported.exit_code, 0) << ported.output << ported.error;
  EXPECT_TRUE(wait_until([&] { return distinct(answers(second_port, "/", 6)).size() == 2; }, 20s));
  // An algorithm change: one more reload.
  args.insert(args.end(), {"--algorithm", "leastconn"});
  auto changed = s.pier(args);
  ASSERT_EQ(changed.exit_code, 0) << changed.output << changed.error;
  EXPECT_TRUE(wait_until([&] { return host_counter(s, "reloads") == reloads_before + 2; }, 10s))
      << "reloads: " << host_counter(s, "reloads") << ", expected " << reloads_before + 2;
  EXPECT_EQ(distinct(answers(port, "/", 6)).size(), 2u);

  const auto report = load.stop();
  EXPECT_EQ(report.failed(), 0) << report.to_text();
  EXPECT_GT(report.keepalive_sent, 0);
  EXPECT_GT(report.fresh_sent, 0);
  std::cout << "[ measured ] " << events << " scale events (2 <-> 6) in " << scaled_ms << " ms, "
            << updates_after_scaling - updates_before << " runtime updates, " << reloads_after_scaling - reloads_before
            << " reloads; a rolling redeploy of 2 instances live in " << rolled_ms
            << " ms; then a new port and an algorithm change: " << host_counter(s, "reloads") - reloads_before
            << " reloads in all; load " << report.to_text();
}

TEST(RollbackTest, ARedeployThatNeverBecomesHealthyIsRolledBackWithoutAFailedRequest) {
  Stack s;
  ASSERT_TRUE(s.wait_for_hosts()) << s.log("agent");
  const std::string app = "rb" + std::to_string(::getpid() % 100000);
  const int port = free_port();
  auto args = deploy_args(app, port, 2);
  args.insert(args.end(), {"--health-path", "/healthz", "--rollout-timeout", "6s"});
  ASSERT_EQ(s.pier(args).exit_code, 0) << s.log("agent");
  ASSERT_TRUE(wait_until([&] { return distinct(answers(port, "/", 6)).size() == 2; }, 20s));
  const auto good = instance_ids(s.ps(), app);

  loadgen::LoadGenerator load(steady_load(port));
  load.start();
  // The broken release: same app, a new tag whose /healthz answers 503.
  auto broken = args;
  for (std::size_t i = 0; i + 1 < broken.size(); ++i) {
    if (broken[i] == "--tag") broken[i + 1] = "broken";
    if (broken[i] == "--command") broken[i + 1] = "pier-demo-app --healthz-status 503";
  }
  const auto started = Steady::now();
  auto deployed = s.pier(broken);
  const auto rolled_back_ms = ms_since(started);
  EXPECT_EQ(deployed.exit_code, 1) << deployed.output << deployed.error;
  EXPECT_NE(deployed.error.find("rolled back"), std::string::npos) << deployed.error;
  EXPECT_NE(deployed.error.find("not healthy within 6 s"), std::string::npos) << deployed.error;

  // The old instances served throughout and still do; the broken one is gone.
  EXPECT_TRUE(wait_until([&] { return instance_ids(s.ps(), app) == good && processes_of_app(app) == 2; }, 20s))
      << s.pier({"ps", app}).output;
  EXPECT_EQ(distinct(answers(port, "/", 6)), good);
  auto ps = s.pier({"ps", app});
  EXPECT_NE(ps.output.find(app + ": rolled back to revision"), std::string::npos) << ps.output;
  EXPECT_NE(ps.output.find("healthy within 6 s"), std::string::npos) << ps.output;
  const auto report = load.stop();
  EXPECT_EQ(report.failed(), 0) << report.to_text();
  EXPECT_GT(report.keepalive_sent, 0);
  EXPECT_GT(report.fresh_sent, 0);
  std::cout << "[ measured ] rollback: pier deploy answered after " << rolled_back_ms
            << " ms (rollout timeout 6 s): " << deployed.error << "; load " << report.to_text();
}

TEST(ProxyProtocolTest, ATcpAppThatAsksForItGetsAProxyV2HeaderFirst) {
  Stack s;
  ASSERT_TRUE(s.wait_for_hosts()) << s.log("agent");
  const int port = free_port();
  auto deployed =
      s.pier({"deploy", "--name", "proxied", "--image", "pier/demo-app", "--command", "pier-demo-app --mode tcp",
              "--port", std::to_string(port) + ":7000", "--protocol", "tcp", "--proxy-protocol", "--timeout", "60"});
  ASSERT_EQ(deployed.exit_code, 0) << deployed.output << deployed.error << s.log("agent");
  // The echo app sends back what it receives: the PROXY v2 header HAProxy put first, then our bytes.
  const std::string signature("\r\n\r\n\0\r\nQUIT\n", 12);
  const std::string text = "hello through haproxy\n";
  std::optional<std::string> got;
  ASSERT_TRUE(wait_until(
      [&] {
        // v2 header: 12-byte signature, version/command, family, 2-byte length, then the addresses
        // (IPv4: 12 bytes). 16 + 12 + the text.
        got = tcp_echo(port, text, 16 + 12 + text.size());
        return got.has_value() && got->size() >= 16 + 12 + text.size();
      },
      20s))
      << (got ? got->size() : 0);
  EXPECT_EQ(got->substr(0, 12), signature);
  EXPECT_EQ(static_cast<unsigned char>((*got)[12]), 0x21) << "version 2, command PROXY";
  EXPECT_EQ(static_cast<unsigned char>((*got)[13]), 0x11) << "TCP over IPv4";
  EXPECT_EQ(got->substr(16, 4), std::string("\x7f\x00\x00\x01", 4)) << "the client's address: 127.0.0.1";
  EXPECT_EQ(got->substr(got->size() - text.size()), text);
}

}  // namespace
}  // namespace pier::e2e
