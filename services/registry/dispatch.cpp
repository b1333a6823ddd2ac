#include "services/registry/dispatch.h"

#include "common/codec.h"
#include "common/topics.h"

namespace pier::registry {
namespace {

template <typename Command, typename Apply>
Handled command(const bus::Envelope& envelope, Apply apply) {
  Handled handled;
  auto decoded = codec::decode<Command>(envelope.body);
  if (!decoded.ok()) {
    handled.rejected = decoded.status();
    return handled;
  }
  msg::Reply reply = apply(*decoded);
  handled.state_changed = reply.ok;
  handled.out.push_back({topic::reply_to(envelope.header.sender), codec::encode(reply), envelope.header.request_id});
  return handled;
}

}  // namespace

bool needs_durable_commit(std::string_view topic) { return !topic.starts_with(topic::kHeartbeatPrefix); }

Handled dispatch(Registry& registry, const bus::Envelope& envelope) {
  const std::string& t = envelope.topic;
  const std::string& id = envelope.header.request_id;
  if (t == topic::kDeploy)
    return command<msg::DeployCommand>(envelope, [&](const auto& c) { return registry.deploy(id, c); });
  if (t == topic::kScale)
    return command<msg::ScaleCommand>(envelope, [&](const auto& c) { return registry.scale(id, c); });
  if (t == topic::kRemove)
    return command<msg::RemoveCommand>(envelope, [&](const auto& c) { return registry.remove(id, c); });
  if (t == topic::kPlace)
    return command<msg::PlaceCommand>(envelope, [&](const auto& c) { return registry.place(id, c); });
  Handled handled;
  if (t == topic::kSnapshot) {
    auto decoded = codec::decode<msg::SnapshotRequest>(envelope.body);
    if (!decoded.ok())
      handled.rejected = decoded.status();
    else
      handled.snapshot_requested = true;
    return handled;
  }
  if (t.rfind(topic::kHeartbeatPrefix, 0) == 0) {
    auto decoded = codec::decode<msg::HostStatus>(envelope.body);
    if (!decoded.ok()) {
      handled.rejected = decoded.status();
      return handled;
    }
    if (t != topic::heartbeat(decoded->host_id)) {
      handled.rejected = Status::Invalid("host_id", "must match the topic's host");
      return handled;
    }
    // On a CURVE bus only the key named <host> may publish agent.heartbeat.<host> (services/bus/access.h),
    // so host_id, topic and sender all name the key.
    if (envelope.header.sender != "agent/" + decoded->host_id) {
      handled.rejected = Status::Invalid("sender", "must be agent/<host_id> for a heartbeat");
      return handled;
    }
    auto changed = registry.heartbeat(*decoded);
    if (!changed.ok())
      handled.rejected = changed.status();
    else
      handled.state_changed = *changed;
    return handled;
  }
  handled.rejected = Status::Error("no handler for topic " + t.substr(0, 64));
  return handled;
}

}  // namespace pier::registry
