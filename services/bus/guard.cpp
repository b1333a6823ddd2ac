#include "services/bus/guard.h"

#include <spdlog/spdlog.h>

#include "services/bus/access.h"

namespace pier::bus_proxy {

const keys::AllowedKey* Guard::key_of(const zmq::message_t& frame) {
  // User-Id is the key's name, from the ZAP reply (services/bus/zap_handler.h).
  const char* user = zmq_msg_gets(frame.handle(), "User-Id");
  if (user == nullptr) return nullptr;
  if (last_key_ != nullptr && last_name_ == user) return last_key_;
  const keys::AllowedKey* key = list_->find_name(user);
  if (key == nullptr) return nullptr;
  last_name_ = user;
  last_key_ = key;
  last_stats_ = &stats_of(*key);
  return key;
}

KeyStats& Guard::stats_of(const keys::AllowedKey& key) {
  auto it = stats_.find(key.name);
  if (it == stats_.end())
    it = stats_.emplace(key.name, KeyStats{key.name, std::string(keys::role_name(key.role))}).first;
  it->second.role = keys::role_name(key.role);
  return it->second;
}

void Guard::log_refusal(const keys::AllowedKey& key, std::string_view what, std::string_view topic) {
  const std::string shown(topic.substr(0, 64));
  if (!logged_.emplace(key.name, std::string(what) + " " + shown).second) return;
  spdlog::warn("refused {} '{}' of key {} (role {}): the role may not; further refusals of it are counted", what, shown,
               key.name, keys::role_name(key.role));
}

bool Guard::admit_message(const zmq::message_t& topic) {
  const keys::AllowedKey* key = key_of(topic);
  if (key == nullptr) {
    ++unknown_;
    return false;
  }
  const std::string_view t(static_cast<const char*>(topic.data()), topic.size());
  if (!may_publish(key->role, key->name, t)) {
    ++last_stats_->refused_messages;
    log_refusal(*key, "message on", t);
    return false;
  }
  ++last_stats_->forwarded;
  return true;
}

bool Guard::admit_subscription(const zmq::message_t& frame, std::string_view prefix) {
  const keys::AllowedKey* key = key_of(frame);
  if (key == nullptr) {
    ++unknown_;
    return false;
  }
  if (!may_subscribe(key->role, key->name, prefix)) {
    ++last_stats_->refused_subscriptions;
    log_refusal(*key, "subscription to", prefix);
    return false;
  }
  return true;
}

Status Guard::reload(const std::string& path, bool& revoked) {
  revoked = false;
  auto next = keys::Allowlist::read_file(path);
  if (!next.ok()) return next.status();
  for (const auto& old : list_->keys()) {
    const keys::AllowedKey* now = next->find_key(old.public_key);
    if (now == nullptr || now->name != old.name || now->role != old.role) revoked = true;
  }
  ring_.set(std::move(*next));
  list_ = ring_.get();
  last_key_ = nullptr;
  last_stats_ = nullptr;
  ++reloads_;
  return Status::Ok();
}

BusStats Guard::stats(int64_t now_ms) const {
  BusStats out;
  out.time_ms = now_ms;
  for (const auto& [name, s] : stats_) out.keys.push_back(s);
  out.unknown = unknown_;
  out.reloads = reloads_;
  return out;
}

}  // namespace pier::bus_proxy
