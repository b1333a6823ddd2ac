// Publisher and subscriber over the pier-bus proxy. Frames are [topic][header][body]; header and body
// are msgpack maps (common/messages.h). A socket belongs to the thread that made it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>
#include <zmq.hpp>

#include "common/clock.h"
#include "common/codec.h"
#include "common/messages.h"
#include "common/topics.h"

namespace pier::bus {

// A client's CURVE keys (Z85): its own pair and the bus's public key. docs/SECURITY.md.
struct CurveKeys {
  std::string public_key;
  std::string secret_key;
  std::string server_key;
};

// Where a process reaches the bus: publishers connect to the proxy's XSUB side, subscribers to its
// XPUB side; with `curve`, as a CURVE client of the bus (options::add_bus fills it from --curve-secret
// and --bus-public-key).
struct Endpoints {
  std::string pub = "tcp://127.0.0.1:7701";
  std::string sub = "tcp://127.0.0.1:7702";
  std::optional<CurveKeys> curve;
};

// Makes `socket` a CURVE client of the bus when keys are given; before it connects.
void set_curve(zmq::socket_t& socket, const std::optional<CurveKeys>& curve);

// High-water marks are set before connect (set after, they do not apply and PUB/SUB drops silently).
inline constexpr int kHighWaterMark = 100'000;
inline constexpr int64_t kMaxFrameBytes = 64LL << 20;

// How fast a connection notices that its peer is gone (a cut link sends no FIN): ZMTP heartbeats every
// kHeartbeatMs, the connection closed when nothing comes back within kHeartbeatTimeoutMs (TCP keepalive
// besides); reconnects every 100 ms to 1 s, a connect that hangs abandoned after kConnectTimeoutMs. A
// healed link is used again within about a second. (No TCP_USER_TIMEOUT: a peer that is only slow to
// read must not lose its connection.)
inline constexpr int kHeartbeatMs = 500;
inline constexpr int kHeartbeatTimeoutMs = 3000;
inline constexpr int kConnectTimeoutMs = 1000;
// Sets the options above on a socket, before it binds or connects (every bus socket, the proxy's too).
void set_liveness(zmq::socket_t& socket);

struct Envelope {
  std::string topic;
  msg::Header header;
  std::string body;
  bool gap = false;  // the sender's sequence skipped numbers since its previous message
};

class Publisher {
 public:
  Publisher(zmq::context_t& context, const Endpoints& endpoints, std::string sender, const Clock& clock);
  // A plaintext publisher (tests).
  Publisher(zmq::context_t& context, const std::string& endpoint, std::string sender, const Clock& clock);

  template <typename T>
  void publish(std::string_view topic, const T& body, const std::string& request_id = {}) {
    publish_encoded(topic, codec::encode(body), request_id);
  }
  void publish_encoded(std::string_view topic, const std::string& body, const std::string& request_id);
  // Sends frames exactly as given, no header made: for tests that put garbage on the bus.
  void publish_raw(const std::vector<std::string>& frames);

  const std::string& sender() const { return sender_; }

 private:
  zmq::socket_t socket_;
  std::string sender_;
  const Clock& clock_;
  uint64_t seq_ = 0;
};

class Subscriber {
 public:
  Subscriber(zmq::context_t& context, const Endpoints& endpoints, const std::vector<std::string>& prefixes);
  // A plaintext subscriber (tests).
  Subscriber(zmq::context_t& context, const std::string& endpoint, const std::vector<std::string>& prefixes);

  void subscribe(std::string_view prefix);
  // Returns the next well-formed message, waiting up to timeout_ms (0: do not wait, -1: forever);
  // nullopt as well when a signal interrupts the wait.
  // Malformed frames are dropped, counted and logged once per sender.
  std::optional<Envelope> receive(int timeout_ms);
  // For handlers whose body does not decode: counts and logs once per sender.
  void reject(const Envelope& envelope, const Status& why);

  uint64_t dropped() const { return dropped_; }
  uint64_t received() const { return received_; }
  zmq::socket_t& socket() { return socket_; }

 private:
  void count_malformed(const std::string& sender, const std::string& topic, const std::string& why);

  zmq::socket_t socket_;
  uint64_t dropped_ = 0;
  uint64_t received_ = 0;
  std::set<std::string> logged_senders_;
  std::map<std::string, uint64_t> last_seq_;
};

// A fresh sender id for a short-lived client: "<prefix>-<pid>-<8 hex>".
std::string unique_sender(std::string_view prefix);
// A fresh request id (32 hex digits).
std::string new_request_id();

}  // namespace pier::bus
