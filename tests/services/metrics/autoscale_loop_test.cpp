#include "services/metrics/autoscale_loop.h"

#include <gtest/gtest.h>

#include <set>

#include "common/codec.h"
#include "common/topics.h"
#include "services/metrics/prometheus_text.h"

namespace pier::metrics {
namespace {

struct Sent {
  std::string topic;
  std::string body;
  std::string request_id;
};

msg::State state_with(int replicas, bool enabled, int64_t revision = 1,
                      std::vector<msg::AutoscaleTarget> targets = {{"cpu_percent", 50}}) {
  msg::State state;
  state.revision = revision;
  msg::AppRecord app;
  app.spec.name = "web";
  app.spec.replicas = replicas;
  app.spec.autoscale.enabled = enabled;
  app.spec.autoscale.min = 1;
  app.spec.autoscale.max = 10;
  app.spec.autoscale.targets = std::move(targets);
  state.apps.push_back(app);
  for (int i = 1; i <= replicas; ++i)
    state.instances.push_back(
        {"web-" + std::to_string(i), "web", "h1", "127.100.0." + std::to_string(i + 1), "running", "", 0, 0, {}});
  return state;
}

msg::HostSample busy_sample(int instances, double cpu) {
  msg::HostSample s;
  s.host_id = "h1";
  for (int i = 1; i <= instances; ++i) s.instances.push_back({"web-" + std::to_string(i), "web", cpu, 1 << 20});
  return s;
}

struct AutoscaleLoopTest : ::testing::Test {
  ManualClock clock;
  std::vector<Sent> sent;
  std::unique_ptr<SampleStore> db = std::move(*SampleStore::open(":memory:"));
  DecisionStore store{db->db()};
  LatestFigures figures{30'000};
  AutoscaleLoop loop{clock,
                     [this](std::string_view t, const std::string& b, const std::string& r) {
                       sent.push_back({std::string(t), b, r});
                     },
                     &store, &figures, AutoscaleOptions{}};

  std::vector<Sent> on(std::string_view topic) const {
    std::vector<Sent> out;
    for (const auto& s : sent)
      if (s.topic == topic) out.push_back(s);
    return out;
  }
  // Samples every 2 s for `seconds`, ticking the loop after each.
  void run(int seconds, int instances, double cpu) {
    for (int t = 0; t < seconds; t += 2) {
      clock.advance(2000);
      loop.on_sample(busy_sample(instances, cpu));
      loop.tick();
    }
  }
};

TEST_F(AutoscaleLoopTest, ScalesUpWhenTheWholeUpWindowAsksAndRetriesWithTheSameId) {
  loop.on_state(state_with(2, true));
  run(40, 2, 100);  // 2 instances at 100 % of a core, target 50: the answer is 4
  auto commands = on(topic::kScale);
  ASSERT_GE(commands.size(), 1u);
  auto cmd = codec::decode<msg::ScaleCommand>(commands[0].body);
  ASSERT_TRUE(cmd.ok());
  EXPECT_EQ(cmd->app, "web");
  EXPECT_EQ(cmd->replicas, 4);
  EXPECT_EQ(commands[0].request_id.size(), 32u);
  for (const auto& c : commands) EXPECT_EQ(c.request_id, commands[0].request_id) << "retries keep the request id";
  EXPECT_EQ(loop.pending_commands(), 1u);

  // The recorded decisions: the up-window hold once (not at every tick), then the scale-up.
  auto decisions = on(topic::decision("web"));
  ASSERT_EQ(decisions.size(), 2u);
  auto first = codec::decode<msg::AutoscaleDecision>(decisions[0].body);
  auto second = codec::decode<msg::AutoscaleDecision>(decisions[1].body);
  EXPECT_EQ(first->rule, "up-window");
  EXPECT_EQ(second->rule, "scale-up");
  EXPECT_EQ(second->current, 2);
  EXPECT_EQ(second->desired, 4);
  EXPECT_DOUBLE_EQ(second->inputs.at("observed.cpu_percent"), 100);
  auto stored = store.since(0);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 2u);
  EXPECT_EQ((*stored)[1].decision.rule, "scale-up");
  EXPECT_DOUBLE_EQ((*stored)[1].decision.inputs.at("answer.latest"), 4);

  // Re-sent every 500 ms until the reply comes.
  const std::size_t before = on(topic::kScale).size();
  clock.advance(500);
  loop.tick();
  EXPECT_EQ(on(topic::kScale).size(), before + 1);
  msg::Reply reply;
  reply.request_id = commands[0].request_id;
  reply.ok = true;
  reply.revision = 2;
  loop.on_reply(reply);
  EXPECT_EQ(loop.pending_commands(), 0u);
  clock.advance(500);
  loop.tick();
  EXPECT_EQ(on(topic::kScale).size(), before + 1) << "answered: no more repeats";

  // No new command until the state shows the accepted one, however hot it stays.
  run(10, 2, 100);
  EXPECT_EQ(on(topic::kScale).size(), before + 1);
  loop.on_state(state_with(4, true, 2));
  run(40, 4, 100);  // the answer is now 8 for the whole up window, but the cooldown (60 s) holds it
  EXPECT_EQ(on(topic::kScale).size(), before + 1);
  auto last = codec::decode<msg::AutoscaleDecision>(on(topic::decision("web")).back().body);
  EXPECT_EQ(last->rule, "cooldown");

  const Snapshot snapshot = figures.snapshot(clock.steady_ms());
  EXPECT_EQ(snapshot.autoscale.decisions.at({"web", "scale-up"}), 1u);
  EXPECT_DOUBLE_EQ(snapshot.autoscale.app_cpu_percent.at("web"), 100);
  const std::string text = format_prometheus(snapshot);
  EXPECT_NE(text.find("pier_autoscale_decisions_total{app=\"web\",rule=\"scale-up\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("pier_app_cpu_percent{app=\"web\"} 100\n"), std::string::npos) << text;
}

TEST_F(AutoscaleLoopTest, GivesUpOnACommandAfterTenSecondsAndDecidesAgain) {
  loop.on_state(state_with(2, true));
  run(40, 2, 100);
  ASSERT_EQ(loop.pending_commands(), 1u);
  const std::string first_id = on(topic::kScale)[0].request_id;
  for (int i = 0; i < 20; ++i) {
    clock.advance(500);
    loop.tick();
  }
  run(6, 2, 100);
  std::size_t with_first_id = 0;
  for (const auto& c : on(topic::kScale)) with_first_id += c.request_id == first_id;
  EXPECT_GE(with_first_id, 2u) << "sent, then repeated until 10 s had passed";
  ASSERT_EQ(loop.pending_commands(), 1u);
  EXPECT_NE(on(topic::kScale).back().request_id, first_id) << "a new decision is a new request";
  // pier why shows it: the change, that it was not applied, the change again (the failed one does not
  // count for the cooldown).
  auto answer = loop.decisions("web", 3);
  ASSERT_EQ(answer.body["decisions"].size(), 3u) << answer.body.dump();
  EXPECT_EQ(answer.body["decisions"][0]["rule"], "scale-up");
  EXPECT_EQ(answer.body["decisions"][1]["rule"], "not-applied");
  EXPECT_EQ(answer.body["decisions"][2]["rule"], "scale-up");
}

TEST_F(AutoscaleLoopTest, PublishesAggregatesForEveryAppAndIgnoresDisabledOnes) {
  loop.on_state(state_with(2, false));
  run(40, 2, 100);
  EXPECT_TRUE(on(topic::kScale).empty());
  EXPECT_TRUE(on(topic::decision("web")).empty());
  auto aggregates = on(topic::app_metrics("web"));
  ASSERT_FALSE(aggregates.empty());
  auto m = codec::decode<msg::AppMetrics>(aggregates.back().body);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->instances, 2);
  EXPECT_DOUBLE_EQ(m->cpu_percent, 100);
  EXPECT_EQ(m->requests_per_second, -1) << "not measured yet";
  EXPECT_EQ(m->replicas, 2);
  EXPECT_EQ(m->running, 2);
}

TEST_F(AutoscaleLoopTest, ARequestRatePolicyHoldsWhileRatesAreNotMeasured) {
  loop.on_state(state_with(4, true, 1, {{"requests_per_second", 100}}));
  run(400, 4, 1);  // CPU is measured, requests are not: no basis to scale down
  EXPECT_TRUE(on(topic::kScale).empty());
  auto d = codec::decode<msg::AutoscaleDecision>(on(topic::decision("web")).back().body);
  EXPECT_EQ(d->rule, "stale");
}

TEST_F(AutoscaleLoopTest, ARequestRatePolicyScalesOnTheAgentsRequestFigures) {
  loop.on_state(state_with(2, true, 1, {{"requests_per_second", 100}}));
  for (int t = 0; t < 40; t += 2) {
    clock.advance(2000);
    msg::HostSample s = busy_sample(2, 1);
    // 350 requests/s to the app through h1's HAProxy: 4 instances' worth at 100 per instance.
    s.apps = {{"web", 350, 6, 0, 3, 42, 700, {{"web-1", 175, 3, 0}, {"web-2", 175, 3, 0}}}};
    loop.on_sample(s);
    loop.tick();
  }
  auto commands = on(topic::kScale);
  ASSERT_GE(commands.size(), 1u);
  auto cmd = codec::decode<msg::ScaleCommand>(commands[0].body);
  EXPECT_EQ(cmd->replicas, 4);
  EXPECT_TRUE(cmd->remove_first.empty()) << "scale-up removes nothing";
  auto m = codec::decode<msg::AppMetrics>(on(topic::app_metrics("web")).back().body);
  EXPECT_DOUBLE_EQ(m->requests_per_second, 350);
  EXPECT_DOUBLE_EQ(m->p95_latency_ms, 42);
  auto d = codec::decode<msg::AutoscaleDecision>(on(topic::decision("web")).back().body);
  EXPECT_EQ(d->rule, "scale-up");
  EXPECT_DOUBLE_EQ(d->inputs.at("observed.requests_per_second"), 175) << "per instance";
}

TEST_F(AutoscaleLoopTest, AP95PolicyScalesOnTheLoggedLatency) {
  loop.on_state(state_with(2, true, 1, {{"p95_latency_ms", 100}}));
  for (int t = 0; t < 40; t += 2) {
    clock.advance(2000);
    msg::HostSample s = busy_sample(2, 1);
    s.apps = {{"web", 10, 0, 0, 100, 250, 20, {}}};  // p95 250 ms for a target of 100: 2 * 2.5 = 5
    loop.on_sample(s);
    loop.tick();
  }
  ASSERT_GE(on(topic::kScale).size(), 1u);
  EXPECT_EQ(codec::decode<msg::ScaleCommand>(on(topic::kScale)[0].body)->replicas, 4) << "max_step 2";
}

TEST_F(AutoscaleLoopTest, ScaleInNamesInstancesThatServeNobodyThenTheLeastBusy) {
  msg::State state = state_with(4, true);
  state.instances[3].state = "starting";  // web-4 serves nobody yet
  loop.on_state(state);
  for (int t = 0; t < 320; t += 2) {  // idle for the whole 300 s down window
    clock.advance(2000);
    msg::HostSample s = busy_sample(4, 1);
    s.apps = {{"web", 1, 7, 0, 1, 1, 2, {{"web-1", 1, 5, 0}, {"web-2", 0, 0, 0}, {"web-3", 0, 2, 0}}}};
    loop.on_sample(s);
    loop.tick();
  }
  auto commands = on(topic::kScale);
  ASSERT_GE(commands.size(), 1u);
  auto cmd = codec::decode<msg::ScaleCommand>(commands[0].body);
  EXPECT_EQ(cmd->replicas, 2);
  EXPECT_EQ(cmd->remove_first, (std::vector<std::string>{"web-4", "web-2"}));
}

TEST_F(AutoscaleLoopTest, DryRunDecidesWithoutPublishingAndErrorsAreNamed) {
  EXPECT_EQ(loop.dry_run("web").status, 503);
  EXPECT_EQ(loop.decisions("web", 10).status, 503);
  loop.on_state(state_with(2, true));
  for (int t = 0; t < 40; t += 2) {  // samples, but no tick: nothing decided yet
    clock.advance(2000);
    loop.on_sample(busy_sample(2, 100));
  }
  sent.clear();
  auto answer = loop.dry_run("web");
  ASSERT_EQ(answer.status, 200) << answer.body.dump();
  EXPECT_EQ(answer.body["rule"], "scale-up");
  EXPECT_EQ(answer.body["old"], 2);
  EXPECT_EQ(answer.body["new"], 4);
  EXPECT_EQ(answer.body["dry_run"], true);
  EXPECT_TRUE(sent.empty()) << "a dry run publishes nothing";
  EXPECT_EQ(loop.decisions("web", 10).body["decisions"].size(), 0u) << "and stores nothing";
  loop.tick();
  ASSERT_EQ(on(topic::kScale).size(), 1u);
  EXPECT_EQ(loop.dry_run("web").body["rule"], "cooldown") << "the change just sent counts";

  EXPECT_EQ(loop.dry_run("api").status, 404);
  EXPECT_EQ(loop.decisions("api", 10).status, 404);
  auto listed = loop.decisions("web", 1);
  ASSERT_EQ(listed.status, 200);
  ASSERT_EQ(listed.body["decisions"].size(), 1u);
  EXPECT_EQ(listed.body["decisions"][0]["rule"], "scale-up");
  EXPECT_EQ(loop.decisions("web", 10).body["decisions"].size(), 1u);

  loop.on_state(state_with(2, false, 3));
  EXPECT_EQ(loop.dry_run("web").status, 409);
  EXPECT_EQ(loop.decisions("web", 10).body["autoscale_enabled"], false);
}

TEST_F(AutoscaleLoopTest, RestoredDecisionsKeepTheCooldownAcrossARestart) {
  loop.on_state(state_with(2, true));
  run(40, 2, 100);
  std::set<std::string> ids;
  for (const auto& c : on(topic::kScale)) ids.insert(c.request_id);
  ASSERT_EQ(ids.size(), 1u);

  // A new pier-metrics on the same database, 10 s later, with the change applied.
  clock.advance(10'000);
  std::vector<Sent> sent2;
  AutoscaleLoop restarted(
      clock,
      [&](std::string_view t, const std::string& b, const std::string& r) {
        sent2.push_back({std::string(t), b, r});
      },
      &store, nullptr, AutoscaleOptions{});
  std::vector<InstanceRow> rows;
  for (int t = 40; t > 0; t -= 2)
    for (int i = 1; i <= 4; ++i)
      rows.push_back({"h1", "web-" + std::to_string(i), "web", clock.now_ms() - t * 1000, 100, 0});
  restarted.restore(rows, *store.since(0));
  restarted.on_state(state_with(4, true, 2));
  restarted.tick();
  for (const auto& s : sent2) EXPECT_NE(s.topic, topic::kScale);
  auto answer = restarted.decisions("web", 10);
  EXPECT_EQ(answer.body["decisions"].back()["rule"], "cooldown") << answer.body.dump();
}

}  // namespace
}  // namespace pier::metrics
