#include "common/bus.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <random>

namespace pier::bus {
namespace {

std::string random_hex(int digits) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(digits);
  for (int i = 0; i < digits; ++i) out.push_back(kHex[rng() % 16]);
  return out;
}

}  // namespace

void set_liveness(zmq::socket_t& socket) {
  socket.set(zmq::sockopt::heartbeat_ivl, kHeartbeatMs);
  socket.set(zmq::sockopt::heartbeat_timeout, kHeartbeatTimeoutMs);
  socket.set(zmq::sockopt::heartbeat_ttl, kHeartbeatTimeoutMs);
  socket.set(zmq::sockopt::connect_timeout, kConnectTimeoutMs);
  socket.set(zmq::sockopt::reconnect_ivl, 100);
  socket.set(zmq::sockopt::reconnect_ivl_max, 1000);
  socket.set(zmq::sockopt::tcp_keepalive, 1);
  socket.set(zmq::sockopt::tcp_keepalive_idle, 2);
  socket.set(zmq::sockopt::tcp_keepalive_intvl, 1);
  socket.set(zmq::sockopt::tcp_keepalive_cnt, 2);
}

void set_curve(zmq::socket_t& socket, const std::optional<CurveKeys>& curve) {
  if (!curve) return;
  socket.set(zmq::sockopt::curve_serverkey, curve->server_key);
  socket.set(zmq::sockopt::curve_publickey, curve->public_key);
  socket.set(zmq::sockopt::curve_secretkey, curve->secret_key);
}

Publisher::Publisher(zmq::context_t& context, const Endpoints& endpoints, std::string sender, const Clock& clock)
    : socket_(context, zmq::socket_type::pub), sender_(std::move(sender)), clock_(clock) {
  socket_.set(zmq::sockopt::sndhwm, kHighWaterMark);
  socket_.set(zmq::sockopt::linger, 2000);
  set_liveness(socket_);
  set_curve(socket_, endpoints.curve);
  socket_.connect(endpoints.pub);
}

Publisher::Publisher(zmq::context_t& context, const std::string& endpoint, std::string sender, const Clock& clock)
    : Publisher(context, Endpoints{endpoint, {}, std::nullopt}, std::move(sender), clock) {}

void Publisher::publish_encoded(std::string_view topic, const std::string& body, const std::string& request_id) {
  msg::Header header;
  header.sender = sender_;
  header.seq = ++seq_;
  header.time_ms = clock_.now_ms();
  header.request_id = request_id;
  const std::string head = codec::encode(header);
  socket_.send(zmq::buffer(topic), zmq::send_flags::sndmore);
  socket_.send(zmq::buffer(head), zmq::send_flags::sndmore);
  socket_.send(zmq::buffer(body), zmq::send_flags::none);
}

void Publisher::publish_raw(const std::vector<std::string>& frames) {
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const auto flags = i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
    socket_.send(zmq::buffer(frames[i]), flags);
  }
}

Subscriber::Subscriber(zmq::context_t& context, const Endpoints& endpoints, const std::vector<std::string>& prefixes)
    : socket_(context, zmq::socket_type::sub) {
  socket_.set(zmq::sockopt::rcvhwm, kHighWaterMark);
  socket_.set(zmq::sockopt::maxmsgsize, kMaxFrameBytes);
  socket_.set(zmq::sockopt::linger, 0);
  set_liveness(socket_);
  set_curve(socket_, endpoints.curve);
  for (const auto& p : prefixes) subscribe(p);
  socket_.connect(endpoints.sub);
}

Subscriber::Subscriber(zmq::context_t& context, const std::string& endpoint, const std::vector<std::string>& prefixes)
    : Subscriber(context, Endpoints{{}, endpoint, std::nullopt}, prefixes) {}

void Subscriber::subscribe(std::string_view prefix) { socket_.set(zmq::sockopt::subscribe, prefix); }

std::optional<Envelope> Subscriber::receive(int timeout_ms) {
  zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
  int64_t remaining = timeout_ms;
  for (;;) {
    try {
      if (zmq::poll(&item, 1, std::chrono::milliseconds(remaining)) == 0) return std::nullopt;
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) return std::nullopt;  // a signal: the caller's loop looks at why
      throw;
    }
    std::vector<zmq::message_t> frames;
    while (true) {
      zmq::message_t frame;
      if (!socket_.recv(frame, zmq::recv_flags::dontwait)) break;
      const bool more = frame.more();
      frames.push_back(std::move(frame));
      if (!more) break;
    }
    if (frames.empty()) continue;
    ++received_;
    const std::string topic = frames[0].to_string();
    if (frames.size() != 3) {
      count_malformed("", topic, "expected 3 frames, got " + std::to_string(frames.size()));
    } else {
      auto header = codec::decode<msg::Header>(frames[1].to_string_view());
      if (!header.ok()) {
        count_malformed("", topic, "bad header: " + header.status().message());
      } else {
        Envelope env{topic, std::move(*header), frames[2].to_string(), false};
        auto& last = last_seq_[env.header.sender];
        env.gap = last != 0 && env.header.seq != last + 1;
        last = env.header.seq;
        return env;
      }
    }
    // A malformed message was dropped: keep waiting for a good one, but only poll once more without
    // blocking so that a flood of garbage cannot hold the caller past its timeout by much.
    remaining = 0;
  }
}

void Subscriber::reject(const Envelope& envelope, const Status& why) {
  count_malformed(envelope.header.sender, envelope.topic, why.message());
}

void Subscriber::count_malformed(const std::string& sender, const std::string& topic, const std::string& why) {
  ++dropped_;
  const std::string who = sender.empty() ? std::string("<unknown sender>") : sender;
  if (logged_senders_.insert(who).second) {
    spdlog::warn(
        "dropped malformed message from {} on topic '{}': {} (further drops from this sender are "
        "counted, not logged)",
        who, topic.substr(0, 64), why);
  }
}

std::string unique_sender(std::string_view prefix) {
  return std::string(prefix) + "-" + std::to_string(::getpid()) + "-" + random_hex(8);
}

std::string new_request_id() { return random_hex(32); }

}  // namespace pier::bus
