// The ZAP handler of pier-bus (ZeroMQ RFC 27): admits a CURVE client only when its public key is in
// the allowlist and it came through one of the bus's own ZAP domains, and names it (User-Id = the key's
// name, which every message of that connection then carries). CURVE without a ZAP handler admits every
// key (libzmq#2594), so the handler binds inproc://zeromq.zap.01 before the bus's sockets bind.
#pragma once

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "services/bus/guard.h"

namespace pier::bus_proxy {

inline constexpr const char* kPublishersDomain = "pier.publishers";
inline constexpr const char* kSubscribersDomain = "pier.subscribers";

// The answer to one ZAP request (frames as RFC 27 has them): 200 with the key's name, or 400.
struct ZapAnswer {
  std::string status_code;
  std::string status_text;
  std::string user_id;
};
ZapAnswer judge_zap(const keys::Allowlist& list, const std::vector<std::string>& request);

class ZapHandler {
 public:
  // Binds inproc://zeromq.zap.01 in `context` and answers on its own thread until destroyed.
  ZapHandler(zmq::context_t& context, const KeyRing& ring);
  ~ZapHandler();
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

  uint64_t admitted() const { return admitted_; }
  uint64_t denied() const { return denied_; }

 private:
  void serve(zmq::socket_t socket);

  const KeyRing& ring_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> admitted_{0};
  std::atomic<uint64_t> denied_{0};
  std::thread thread_;
};

}  // namespace pier::bus_proxy
