// Commands sent the way every pier client sends them (as cli/registry_client.h does, but without
// blocking the caller's loop): published under one request id, published again with the same id every
// `repeat_ms` until the registry's Reply to that id arrives, given up after `give_up_ms`. The caller
// feeds it replies and calls resend_due() from its loop; the publish function and the clock are
// injected, so tests need no socket.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/messages.h"

namespace pier::metrics {

class CommandRetry {
 public:
  using Publish = std::function<void(std::string_view topic, const std::string& body, const std::string& request_id)>;

  struct Pending {
    std::string key;  // the caller's name for it (pier-metrics: the app)
    std::string topic;
    std::string body;
    std::string request_id;
    int64_t first_sent_ms = 0;  // steady clock
    int64_t last_sent_ms = 0;
  };

  CommandRetry(Publish publish, const Clock& clock, int64_t repeat_ms = 500, int64_t give_up_ms = 10'000);

  // Publishes the command now under a new request id (bus::new_request_id) and keeps it until answered.
  // A command still pending under the same key is replaced (and no longer retried).
  const Pending& send(const std::string& key, std::string_view topic, std::string body);
  // Re-publishes every pending command whose last send is repeat_ms old; returns (and forgets) those
  // first sent give_up_ms ago or more.
  std::vector<Pending> resend_due();
  // The pending command `reply` answers, forgotten; nullopt when it answers none of ours.
  std::optional<Pending> answer(const msg::Reply& reply);

  bool pending(const std::string& key) const { return pending_.count(key) > 0; }
  std::size_t size() const { return pending_.size(); }

 private:
  Publish publish_;
  const Clock& clock_;
  const int64_t repeat_ms_;
  const int64_t give_up_ms_;
  std::map<std::string, Pending> pending_;  // by key
};

}  // namespace pier::metrics
