#include "services/registry/dispatch.h"

#include "common/codec.h"
#include "common/topics.h"

namespace pier::registry {
namespace {

// The refusal of a command whose body does not decode: without it the sender hears nothing and retries
// until it gives up. It names the field that did not decode ("app.memory_bytes"), or "body" when the
// bytes are no msgpack map at all. Nothing is applied, so nothing is recorded: a retry is judged again.
msg::Reply undecodable(const Registry& registry, const bus::Envelope& envelope, const Status& why) {
  msg::Reply reply =
      error_reply(envelope.header.request_id, why.field().empty() ? Status::Invalid("body", why.message()) : why);
  reply.revision = registry.state().revision;
  return reply;
}

template <typename Command, typename Apply>
Handled command(Registry& registry, const bus::Envelope& envelope, Apply apply) {
  Handled handled;
  auto decoded = codec::decode<Command>(envelope.body);
  if (!decoded.ok()) {
    handled.rejected = decoded.status();
    if (!envelope.header.request_id.empty())
      handled.out.push_back({topic::reply_to(envelope.header.sender),
                             codec::encode(undecodable(registry, envelope, decoded.status())),
                             envelope.header.request_id});
    return handled;
  }
  msg::Reply reply = apply(*decoded);
  handled.state_changed = reply.ok;
  handled.out.push_back({topic::reply_to(envelope.header.sender), codec::encode(reply), envelope.header.request_id});
  return handled;
}

}  // namespace

Handled dispatch(Registry& registry, const bus::Envelope& envelope) {
  const std::string& t = envelope.topic;
  const std::string& id = envelope.header.request_id;
  if (t == topic::kDeploy)
    return command<msg::DeployCommand>(registry, envelope, [&](const auto& c) { return registry.deploy(id, c); });
  if (t == topic::kScale)
    return command<msg::ScaleCommand>(registry, envelope, [&](const auto& c) { return registry.scale(id, c); });
  if (t == topic::kRemove)
    return command<msg::RemoveCommand>(registry, envelope, [&](const auto& c) { return registry.remove(id, c); });
  if (t == topic::kPlace)
    return command<msg::PlaceCommand>(registry, envelope, [&](const auto& c) { return registry.place(id, c); });
  Handled handled;
  if (t == topic::kSnapshot) {
    // Answered by a state.full, not a reply: one that does not decode is still a request for the state.
    auto decoded = codec::decode<msg::SnapshotRequest>(envelope.body);
    if (!decoded.ok()) handled.rejected = decoded.status();
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
    if (changed.ok()) {
      handled.state_changed = *changed;
      return handled;
    }
    // A host id that is no DNS label names nothing to answer or list: malformed, as a body that does not
    // decode (and never echoed into a topic or a log line).
    if (changed.status().field() == "host_id") {
      handled.rejected = changed.status();
      return handled;
    }
    // Any other refusal (no subnet left, a field breaking a rule) is no malformed message: the agent
    // hears why on its reply topic, and `pier hosts` lists the host as refused.
    handled.state_changed = registry.refuse_host(decoded->host_id, changed.status());
    msg::Reply refusal = error_reply("", changed.status());
    refusal.revision = registry.state().revision;
    handled.out.push_back({topic::reply_to(envelope.header.sender), codec::encode(refusal), ""});
    return handled;
  }
  handled.rejected = Status::Error("no handler for topic " + t.substr(0, 64));
  return handled;
}

}  // namespace pier::registry
