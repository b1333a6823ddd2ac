// The bus's judge of CURVE clients: the allowlist it admits (also read by the ZAP handler's thread),
// and per message and per subscription whether the key that sent it may (services/bus/access.h).
// Refusals are counted per key and logged once per key and topic; the counts go out on `bus.stats`.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <msgpack.hpp>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "common/keys.h"
#include "common/status.h"

namespace pier::bus_proxy {

// The allowlist as shared by the proxy thread (which reloads it) and the ZAP handler's thread.
class KeyRing {
 public:
  explicit KeyRing(keys::Allowlist list) : current_(std::make_shared<const keys::Allowlist>(std::move(list))) {}
  std::shared_ptr<const keys::Allowlist> get() const {
    std::lock_guard lock(mutex_);
    return current_;
  }
  void set(keys::Allowlist list) {
    auto next = std::make_shared<const keys::Allowlist>(std::move(list));
    std::lock_guard lock(mutex_);
    current_ = std::move(next);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const keys::Allowlist> current_;
};

// Body of `bus.stats` (a public topic, docs/MESSAGES.md).
struct KeyStats {
  std::string name;
  std::string role;
  uint64_t forwarded = 0;              // messages from this key that went out
  uint64_t refused_messages = 0;       // messages from this key dropped: its role may not publish the topic
  uint64_t refused_subscriptions = 0;  // subscriptions of this key not made: its role may not read the prefix
  MSGPACK_DEFINE_MAP(name, role, forwarded, refused_messages, refused_subscriptions);
};
struct BusStats {
  int64_t time_ms = 0;
  std::vector<KeyStats> keys;  // every key seen since the bus started, by name
  uint64_t unknown = 0;        // messages from no key the allowlist holds now (removed since they connected)
  uint64_t reloads = 0;        // allowlist reloads that took effect
  MSGPACK_DEFINE_MAP(time_ms, keys, unknown, reloads);
};

class Guard {
 public:
  explicit Guard(KeyRing& ring) : ring_(ring), list_(ring.get()) {}

  // Whether the message whose first frame is `topic` goes out: its key's role may publish it.
  bool admit_message(const zmq::message_t& topic);
  // Whether a subscription prefix (the subscription frame without its first byte) is made for the peer
  // that sent `frame`.
  bool admit_subscription(const zmq::message_t& frame, std::string_view prefix);

  // Reads the allowlist file again; a bad file changes nothing (the error says which line). Sets
  // `revoked` when a key the old list held is gone or changed name or role: its connections must go.
  Status reload(const std::string& path, bool& revoked);

  BusStats stats(int64_t now_ms) const;

 private:
  const keys::AllowedKey* key_of(const zmq::message_t& frame);
  KeyStats& stats_of(const keys::AllowedKey& key);
  void log_refusal(const keys::AllowedKey& key, std::string_view what, std::string_view topic);

  KeyRing& ring_;
  std::shared_ptr<const keys::Allowlist> list_;
  std::map<std::string, KeyStats, std::less<>> stats_;
  std::set<std::pair<std::string, std::string>> logged_;
  uint64_t unknown_ = 0;
  uint64_t reloads_ = 0;
  // The last sender looked up: consecutive messages mostly come from one key.
  std::string last_name_;
  const keys::AllowedKey* last_key_ = nullptr;
  KeyStats* last_stats_ = nullptr;
};

}  // namespace pier::bus_proxy
