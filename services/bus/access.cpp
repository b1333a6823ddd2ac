#include "services/bus/access.h"

#include <initializer_list>
#include <string>

#include "common/topics.h"

namespace pier::bus_proxy {
namespace {

using keys::Role;

bool is_one_of(std::string_view topic, std::initializer_list<std::string_view> topics) {
  for (auto t : topics)
    if (topic == t) return true;
  return false;
}

bool starts_with_one_of(std::string_view topic, std::initializer_list<std::string_view> prefixes) {
  for (auto p : prefixes)
    if (topic.starts_with(p)) return true;
  return false;
}

// `topic` is `prefix` followed by exactly `name` (agent.heartbeat.<host>, nothing after the host).
bool is_for(std::string_view topic, std::string_view prefix, std::string_view name) {
  return topic.size() == prefix.size() + name.size() && topic.starts_with(prefix) && topic.ends_with(name);
}

// The reply topic of a client that publishes commands under a fixed sender.
std::string reply_of(std::string_view sender) { return topic::reply_to(sender); }

}  // namespace

bool may_publish(Role role, std::string_view name, std::string_view topic) {
  switch (role) {
    case Role::registry:
      return starts_with_one_of(topic, {topic::kStatePrefix, topic::kReplyPrefix});
    case Role::scheduler:
      return is_one_of(topic, {topic::kPlace, topic::kSnapshot});
    case Role::lbgen:
      return topic.starts_with(topic::kLbConfigPrefix) || is_one_of(topic, {topic::kLbSpec, topic::kSnapshot});
    case Role::metrics:
      return topic.starts_with(topic::kMetricsPrefix) || is_one_of(topic, {topic::kScale, topic::kSnapshot});
    case Role::agent:
      // cmd.snapshot: its first state, and the whole after a missed delta (the registry sends at most one
      // every 50 ms, whoever asks).
      return is_for(topic, topic::kHeartbeatPrefix, name) || is_for(topic, topic::kSamplePrefix, name) ||
             is_for(topic, topic::kLbResyncPrefix, name) || topic == topic::kSnapshot;
    case Role::operator_:
      return is_one_of(topic, {topic::kDeploy, topic::kScale, topic::kRemove, topic::kSnapshot});
    case Role::reader:
      return false;
  }
  return false;
}

bool may_subscribe(Role role, std::string_view name, std::string_view prefix) {
  switch (role) {
    case Role::registry:
      return starts_with_one_of(prefix, {topic::kCommandPrefix, topic::kHeartbeatPrefix});
    case Role::scheduler:
      return starts_with_one_of(prefix, {topic::kStateFull, topic::kStateDelta}) ||
             prefix.starts_with(reply_of(role_name(role)));
    case Role::lbgen:
      return starts_with_one_of(prefix, {topic::kStateFull, topic::kStateDelta, topic::kLbResyncPrefix}) ||
             prefix.starts_with(reply_of(role_name(role)));
    case Role::metrics:
      return starts_with_one_of(prefix, {topic::kStateFull, topic::kStateDelta, topic::kSamplePrefix}) ||
             prefix.starts_with(reply_of("metrics"));
    case Role::agent:
      return starts_with_one_of(prefix, {topic::kStateFull, topic::kStateDelta}) || prefix == topic::kLbSpec ||
             is_for(prefix, topic::kLbConfigPrefix, name) || prefix == reply_of("agent/" + std::string(name));
    case Role::operator_:
      // Everything but the commands (and other services' replies): states, metrics, agents' reports,
      // LB configs, the bus's own figures, and the replies of CLI senders ("cli-<pid>-<hex>").
      return starts_with_one_of(prefix, {topic::kStatePrefix, topic::kMetricsPrefix, "agent.", topic::kLbConfigPrefix,
                                         topic::kLbSpec, topic::kLbResyncPrefix, kStatsTopic, "reply.cli-"});
    case Role::reader:
      return starts_with_one_of(prefix, {topic::kMetricsPrefix, kStatsTopic});
  }
  return false;
}

}  // namespace pier::bus_proxy
