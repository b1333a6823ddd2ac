// pier-scheduler: places unplaced instances on hosts. It keeps nothing durable: every decision is
// made from the latest state the registry published.
#include <iostream>

#include "common/bus.h"
#include "common/codec.h"
#include "common/log.h"
#include "common/options.h"
#include "common/state_delta.h"
#include "common/stop_signal.h"
#include "common/topics.h"
#include "services/scheduler/placement.h"

int main(int argc, char** argv) {
  using namespace pier;
  namespace po = boost::program_options;
  bus::Endpoints endpoints;
  std::string level;
  int resend_ms = 1000;
  scheduler::PlacementOptions placement;
  po::options_description desc("pier-scheduler options");
  // clang-format off
  desc.add_options()
      ("resend-ms", po::value(&resend_ms)->default_value(resend_ms),
       "repeat an unchanged plan this often until the registry shows it applied")
      ("cpu-overcommit", po::value(&placement.cpu_overcommit)->default_value(placement.cpu_overcommit),
       "a host takes up to this many times its cores in instance cpu (cpu is a limit, memory is not overcommitted)");
  // clang-format on
  options::add_bus(desc, endpoints);
  options::add_log_level(desc, level);
  options::parse_or_exit(argc, argv, desc, "usage: pier-scheduler [options]\n\nPlaces instances on hosts.");
  log::init("pier-scheduler", level);
  if (!(placement.cpu_overcommit >= 1.0 && placement.cpu_overcommit <= 100.0)) {
    std::cerr << "error: cpu-overcommit: must be between 1 and 100\n";
    return 2;
  }

  SystemClock clock;
  zmq::context_t context;
  bus::Publisher publisher(context, endpoints, "scheduler", clock);
  bus::Subscriber subscriber(context, endpoints, state::topics());
  stop_signal::install();
  spdlog::info("scheduler up");

  state::Follower follower(clock);
  std::string last_plan;
  int64_t last_plan_sent = 0;
  while (!stop_signal::requested()) {
    if (follower.should_ask()) publisher.publish(topic::kSnapshot, msg::SnapshotRequest{follower.ask_reason()});
    auto envelope = subscriber.receive(100);
    if (!envelope) continue;
    auto took = follower.take(envelope->topic, envelope->body);
    if (!took) continue;
    if (!took->ok()) {
      subscriber.reject(*envelope, took->status());
      continue;
    }
    // Every state message, a beacon too, is a moment to plan (and to resend a plan not yet applied).
    if (!follower.has_state()) continue;
    const msg::State* state = &follower.state();
    scheduler::Plan plan = scheduler::place(*state, placement);
    if (plan.empty()) continue;
    msg::PlaceCommand command{state->revision, plan.assignments, plan.unplaced};
    command.state_revision = 0;  // compare plans without the revision
    std::string encoded = codec::encode(command);
    if (encoded == last_plan && clock.steady_ms() - last_plan_sent < resend_ms) continue;
    for (const auto& a : plan.assignments)
      spdlog::info("place {} on {} (state revision {})", a.instance, a.host, state->revision);
    for (const auto& u : plan.unplaced)
      if (encoded != last_plan) spdlog::warn("cannot place {}: {}", u.instance, u.reason);
    last_plan = encoded;
    last_plan_sent = clock.steady_ms();
    command.state_revision = state->revision;
    publisher.publish(topic::kPlace, command, bus::new_request_id());
  }
  spdlog::info("scheduler stopped ({} malformed messages dropped)", subscriber.dropped());
  return 0;
}
