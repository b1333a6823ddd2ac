// Drain before stop against the whole stack (exec runtime): an instance that is no longer wanted
// leaves HAProxy, answers what it is answering, and only then stops; meanwhile `pier ps` says
// `draining`, and the scale command is live as soon as the instances that stay serve.
#include <gtest/gtest.h>

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
  ASSERT_TRUE(wait_until(
      [&] {
        auto h = s.hosts();
        return h.is_array() && h.size() == 1;
      },
      30s))
      << s.log("agent");
  const std::string app = "drain" + std::to_string(::getpid() % 100000);
  const int port = free_port();
  ASSERT_EQ(s.pier(deploy_args(app, port, 2)).exit_code, 0) << s.log("agent");
  ASSERT_TRUE(wait_until([&] { return distinct(answers(port, "/", 6)).size() == 2; }, 20s));
  const auto ids = instance_ids(s.ps(), app);
  const std::string newest = *ids.rbegin();  // scale-in takes the newest of the running ones

  // Two slow requests (3 s of CPU each): round robin gives one to each instance.
  auto slow = [&] { return http_get(port, "/work?ms=3000"); };
  auto first = std::async(std::launch::async, slow);
  std::this_thread::sleep_for(200ms);  // the load's shape, not synchronisation: the second goes next
  auto second = std::async(std::launch::async, slow);
  std::this_thread::sleep_for(300ms);

  loadgen::Options o;
  o.port = port;
  o.keepalive_workers = 1;
  o.fresh_workers = 1;
  o.requests_per_second = 50;
  o.max_requests = 100'000;
  o.max_duration_ms = 60'000;
  loadgen::LoadGenerator load(o);
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
            << " drained its 3 s request; load " << report.to_text();
}

}  // namespace
}  // namespace pier::e2e
