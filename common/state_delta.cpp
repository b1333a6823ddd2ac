#include "common/state_delta.h"

#include <algorithm>
#include <set>
#include <unordered_map>
#include <utility>

#include "common/codec.h"
#include "common/topics.h"

namespace pier::state {
namespace {

// Records of `records` whose encoding differs from the one `last` holds for their key go to `changed`
// (and `last` takes it), keys of `last` no longer there to `removed` (and go). One buffer serves every
// encoding, and a record's entry is only written when it changed: a publication of an unchanged state
// costs an encoding per record and no allocation.
template <typename Record, typename Key, typename Pack>
void compare(const std::vector<Record>& records, Key key, Pack pack, std::map<std::string, Differ::Sent>& last,
             uint64_t round, std::vector<Record>& changed, std::vector<std::string>& removed) {
  msgpack::sbuffer buffer;
  for (const Record& record : records) {
    buffer.clear();
    pack(buffer, record);
    const std::string_view encoded(buffer.data(), buffer.size());
    auto [it, added] = last.try_emplace(key(record));
    it->second.round = round;
    if (!added && it->second.encoded == encoded) continue;
    it->second.encoded.assign(encoded);
    changed.push_back(record);
  }
  for (auto it = last.begin(); it != last.end();) {
    if (it->second.round == round) {
      ++it;
      continue;
    }
    removed.push_back(it->first);
    it = last.erase(it);
  }
}

// Replaces each record of `updates` in `records` by key, or adds it (`insert` places a new one and says
// where), then drops those named in `removed`.
template <typename Record, typename Key, typename Insert>
void merge(std::vector<Record>& records, const std::vector<Record>& updates, const std::vector<std::string>& removed,
           Key key, Insert insert) {
  if (!updates.empty()) {
    std::unordered_map<std::string, std::size_t> at;
    at.reserve(records.size());
    for (std::size_t i = 0; i < records.size(); ++i) at.emplace(key(records[i]), i);
    for (const Record& update : updates) {
      auto it = at.find(key(update));
      if (it != at.end()) {
        records[it->second] = update;
      } else {
        const std::size_t placed = insert(records, update);
        if (placed + 1 == records.size()) {
          at.emplace(key(update), placed);  // appended: nothing else moved
        } else {
          // Put between others (a new host): the positions after it moved.
          at.clear();
          for (std::size_t i = 0; i < records.size(); ++i) at.emplace(key(records[i]), i);
        }
      }
    }
  }
  if (removed.empty()) return;
  const std::set<std::string> gone(removed.begin(), removed.end());
  std::erase_if(records, [&](const Record& r) { return gone.contains(key(r)); });
}

const std::string& host_key(const msg::HostRecord& h) { return h.id; }
const std::string& app_key(const msg::AppRecord& a) { return a.spec.name; }
const std::string& instance_key(const msg::InstanceRecord& i) { return i.id; }

template <typename Record>
std::size_t append(std::vector<Record>& records, const Record& record) {
  records.push_back(record);
  return records.size() - 1;
}

}  // namespace

msg::HostRecord comparable(msg::HostRecord host) {
  host.last_seen_ms = 0;
  return host;
}

msg::StateDelta Differ::next(const msg::State& state) {
  msg::StateDelta delta;
  delta.stream = stream_;
  delta.revision = state.revision;
  ++round_;
  const auto pack = [](msgpack::sbuffer& buffer, const auto& record) { msgpack::pack(buffer, record); };
  const auto pack_host = [](msgpack::sbuffer& buffer, const msg::HostRecord& h) {
    msgpack::pack(buffer, comparable(h));
  };
  compare(state.hosts, host_key, pack_host, hosts_, round_, delta.hosts, delta.removed_hosts);
  compare(state.apps, app_key, pack, apps_, round_, delta.apps, delta.removed_apps);
  compare(state.instances, instance_key, pack, instances_, round_, delta.instances, delta.removed_instances);
  std::string refused = codec::encode(state.refused_hosts);
  if (refused != refused_ || number_ == 0) {
    delta.has_refused_hosts = true;
    delta.refused_hosts = state.refused_hosts;
    refused_ = std::move(refused);
  }
  const bool changed = number_ == 0 || state.revision != revision_ || delta.has_refused_hosts || !delta.hosts.empty() ||
                       !delta.apps.empty() || !delta.instances.empty() || !delta.removed_hosts.empty() ||
                       !delta.removed_apps.empty() || !delta.removed_instances.empty();
  revision_ = state.revision;
  if (changed) ++number_;
  delta.number = number_;
  return delta;
}

void Differ::stamp(msg::State& state) const {
  state.stream = stream_;
  state.delta = number_;
}

Mirror::Took Mirror::take(msg::State state) {
  if (has_state_ && !state.stream.empty() && state.stream == state_.stream && state.delta < state_.delta)
    return Took::kStale;
  state_ = std::move(state);
  has_state_ = true;
  return Took::kWhole;
}

Mirror::Took Mirror::take(const msg::StateDelta& delta) {
  if (!has_state_ || delta.stream != state_.stream) return Took::kGap;
  if (delta.number <= state_.delta) return delta.number == state_.delta ? Took::kCurrent : Took::kStale;
  if (delta.number != state_.delta + 1) return Took::kGap;
  merge(state_.hosts, delta.hosts, delta.removed_hosts, host_key,
        [](std::vector<msg::HostRecord>& hosts, const msg::HostRecord& host) {
          // The registry keeps hosts in id order.
          auto at = std::lower_bound(hosts.begin(), hosts.end(), host.id,
                                     [](const msg::HostRecord& h, const std::string& id) { return h.id < id; });
          return static_cast<std::size_t>(hosts.insert(at, host) - hosts.begin());
        });
  merge(state_.apps, delta.apps, delta.removed_apps, app_key, append<msg::AppRecord>);
  merge(state_.instances, delta.instances, delta.removed_instances, instance_key, append<msg::InstanceRecord>);
  if (delta.has_refused_hosts) state_.refused_hosts = delta.refused_hosts;
  state_.revision = delta.revision;
  state_.delta = delta.number;
  return Took::kApplied;
}

std::vector<std::string> topics() { return {std::string(topic::kStateFull), std::string(topic::kStateDelta)}; }

std::optional<Result<Mirror::Took>> Follower::take(std::string_view topic, std::string_view body) {
  Mirror::Took took;
  if (topic == topic::kStateFull) {
    auto whole = codec::decode<msg::State>(body);
    if (!whole.ok()) return Result<Mirror::Took>(whole.status());
    took = mirror_.take(std::move(*whole));
  } else if (topic == topic::kStateDelta) {
    auto delta = codec::decode<msg::StateDelta>(body);
    if (!delta.ok()) return Result<Mirror::Took>(delta.status());
    took = mirror_.take(*delta);
  } else {
    return std::nullopt;
  }
  if (took == Mirror::Took::kWhole) behind_ = false;
  if (took == Mirror::Took::kGap && mirror_.has_state() && !behind_) {
    behind_ = true;
    ++gaps_;
  }
  return Result<Mirror::Took>(took);
}

bool Follower::should_ask() {
  if (mirror_.has_state() && !behind_) return false;
  const int64_t now = clock_.steady_ms();
  if (asked_ && now - last_ask_ms_ < ask_every_ms_) return false;
  asked_ = true;
  last_ask_ms_ = now;
  return true;
}

}  // namespace pier::state
