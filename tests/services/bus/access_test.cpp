// The bus's authorization table, row by row: role, key name, topic (or prefix) -> allowed or not.
#include "services/bus/access.h"

#include <gtest/gtest.h>

namespace pier::bus_proxy {
namespace {

using keys::Role;

struct Row {
  Role role;
  std::string name;
  std::string topic;
  bool allowed;
};

std::string describe(const Row& r) {
  return std::string(keys::role_name(r.role)) + " " + r.name + " '" + r.topic + "' " + (r.allowed ? "yes" : "no");
}

TEST(Access, Publish) {
  const std::vector<Row> rows = {
      {Role::agent, "web-1", "agent.heartbeat.web-1", true},
      {Role::agent, "web-1", "agent.sample.web-1", true},
      {Role::agent, "web-1", "agent.heartbeat.web-2", false},  // another host's heartbeat
      {Role::agent, "web-1", "agent.heartbeat.web-10", false},
      {Role::agent, "web-1", "agent.heartbeat.web-1x", false},
      {Role::agent, "web-1", "agent.heartbeat.", false},
      {Role::agent, "web-1", "agent.sample.web-2", false},
      {Role::agent, "web-1", "cmd.rm", false},
      {Role::agent, "web-1", "cmd.snapshot", true},  // its first state, the whole after a missed delta
      {Role::agent, "web-1", "state.full", false},
      {Role::agent, "web-1", "state.delta", false},
      {Role::agent, "web-1", "lb.config.web-1", false},
      {Role::agent, "web-1", "lb.resync.web-1", true},  // asks for the whole LB spec in its own name
      {Role::agent, "web-1", "lb.resync.web-2", false},
      {Role::agent, "web-1", "lb.resync.", false},
      {Role::agent, "web-1", "lb.spec", false},
      {Role::registry, "registry", "state.full", true},
      {Role::registry, "registry", "state.delta", true},
      {Role::registry, "registry", "reply.cli-1-ab", true},
      {Role::registry, "registry", "cmd.deploy", false},
      {Role::registry, "registry", "lb.config.web-1", false},
      {Role::scheduler, "scheduler", "cmd.place", true},
      {Role::scheduler, "scheduler", "cmd.snapshot", true},
      {Role::scheduler, "scheduler", "cmd.rm", false},
      {Role::scheduler, "scheduler", "cmd.place.x", false},
      {Role::lbgen, "lbgen", "lb.config.web-1", true},
      {Role::lbgen, "lbgen", "cmd.snapshot", true},
      {Role::lbgen, "lbgen", "lb.spec", true},
      {Role::lbgen, "lbgen", "lb.resync.web-1", false},
      {Role::lbgen, "lbgen", "state.full", false},
      {Role::metrics, "metrics", "metrics.app.web", true},
      {Role::metrics, "metrics", "metrics.decision.web", true},
      {Role::metrics, "metrics", "cmd.scale", true},
      {Role::metrics, "metrics", "cmd.deploy", false},
      {Role::metrics, "metrics", "cmd.rm", false},
      {Role::operator_, "alice", "cmd.deploy", true},
      {Role::operator_, "alice", "cmd.scale", true},
      {Role::operator_, "alice", "cmd.rm", true},
      {Role::operator_, "alice", "cmd.snapshot", true},
      {Role::operator_, "alice", "cmd.place", false},
      {Role::operator_, "alice", "state.full", false},
      {Role::operator_, "alice", "lb.config.web-1", false},
      {Role::operator_, "alice", "lb.spec", false},
      {Role::operator_, "alice", "agent.heartbeat.alice", false},
      {Role::operator_, "alice", "bus.stats", false},
      {Role::reader, "dash", "metrics.app.web", false},
      {Role::reader, "dash", "cmd.snapshot", false},
  };
  for (const auto& r : rows) EXPECT_EQ(may_publish(r.role, r.name, r.topic), r.allowed) << describe(r);
}

TEST(Access, Subscribe) {
  const std::vector<Row> rows = {
      {Role::agent, "web-1", "state.full", true},
      {Role::agent, "web-1", "state.delta", true},
      {Role::agent, "web-1", "lb.config.web-1", true},
      {Role::agent, "web-1", "lb.spec", true},  // the spec every host shares
      {Role::agent, "web-1", "lb.", false},
      {Role::agent, "web-1", "lb.resync.", false},  // other agents' requests
      {Role::agent, "web-1", "reply.agent/web-1", true},
      {Role::agent, "web-1", "lb.config.web-2", false},
      {Role::agent, "web-1", "lb.config.", false},
      {Role::agent, "web-1", "lb.config.web-", false},
      {Role::agent, "web-1", "state.", false},
      {Role::agent, "web-1", "", false},  // everything
      {Role::agent, "web-1", "cmd.", false},
      {Role::agent, "web-1", "agent.", false},
      {Role::agent, "web-1", "reply.", false},
      {Role::agent, "web-1", "reply.cli-1", false},
      {Role::registry, "registry", "cmd.", true},
      {Role::registry, "registry", "agent.heartbeat.", true},
      {Role::registry, "registry", "cmd", false},
      {Role::registry, "registry", "agent.", false},
      {Role::scheduler, "scheduler", "state.full", true},
      {Role::scheduler, "scheduler", "state.delta", true},
      {Role::scheduler, "scheduler", "reply.scheduler", true},
      {Role::scheduler, "scheduler", "cmd.", false},
      {Role::lbgen, "lbgen", "state.full", true},
      {Role::lbgen, "lbgen", "state.delta", true},
      {Role::lbgen, "lbgen", "lb.resync.", true},  // agents asking for the whole LB spec
      {Role::lbgen, "lbgen", "agent.", false},
      {Role::metrics, "metrics", "state.full", true},
      {Role::metrics, "metrics", "state.delta", true},
      {Role::metrics, "metrics", "agent.sample.", true},
      {Role::metrics, "metrics", "reply.metrics", true},
      {Role::metrics, "metrics", "agent.heartbeat.", false},
      {Role::metrics, "metrics", "cmd.", false},
      {Role::operator_, "alice", "state.full", true},
      {Role::operator_, "alice", "reply.cli-123-abcd", true},
      {Role::operator_, "alice", "metrics.app.", true},
      {Role::operator_, "alice", "agent.sample.", true},
      {Role::operator_, "alice", "bus.stats", true},
      {Role::operator_, "alice", "cmd.", false},
      {Role::operator_, "alice", "cmd.deploy", false},
      {Role::operator_, "alice", "reply.metrics", false},
      {Role::operator_, "alice", "", false},
      {Role::reader, "dash", "metrics.", true},
      {Role::reader, "dash", "metrics.app.web", true},
      {Role::reader, "dash", "bus.stats", true},
      {Role::reader, "dash", "state.full", false},
      {Role::reader, "dash", "state.delta", false},  // the state holds every app's environment
      {Role::reader, "dash", "metrics", false},
      {Role::reader, "dash", "", false},
  };
  for (const auto& r : rows) EXPECT_EQ(may_subscribe(r.role, r.name, r.topic), r.allowed) << describe(r);
}

}  // namespace
}  // namespace pier::bus_proxy
