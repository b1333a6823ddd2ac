#include "services/bus/proxy_loop.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <vector>

#include "common/codec.h"
#include "common/messages.h"
#include "services/bus/access.h"

namespace pier::bus_proxy {
namespace {

// Receives one whole message (every frame) if one is waiting.
bool receive_message(zmq::socket_ref socket, std::vector<zmq::message_t>& frames) {
  frames.clear();
  zmq::message_t frame;
  if (!socket.recv(frame, zmq::recv_flags::dontwait)) return false;
  bool more = frame.more();
  frames.push_back(std::move(frame));
  while (more) {
    zmq::message_t next;
    (void)socket.recv(next, zmq::recv_flags::none);  // the rest of a message arrives with its first frame
    more = next.more();
    frames.push_back(std::move(next));
  }
  return true;
}

void send_message(zmq::socket_ref socket, std::vector<zmq::message_t>& frames) {
  for (std::size_t i = 0; i < frames.size(); ++i)
    (void)socket.send(frames[i], i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
}

void report(const MessageDropper& dropper, const char* when) {
  spdlog::info("fault injection {}: dropped {} of {} messages (share {}, seed {}, {})", when, dropper.dropped(),
               dropper.seen(), dropper.options().share, dropper.options().seed, dropper.active() ? "active" : "over");
}

// A subscription frame from XPUB: 1 (subscribe) or 0 (unsubscribe), then the prefix. On a guarded bus
// the subscription is made here, for the peer that sent it, when its key may; nothing goes upstream
// (XSUB already takes everything). An unsubscription is always honoured. Frames without a peer (libzmq's
// own unsubscriptions of a peer that left) need nothing: the peer's subscriptions went with it.
void judge_subscription(zmq::socket_ref xpub, Guard& guard, const zmq::message_t& frame) {
  if (frame.size() == 0) return;
  const auto* bytes = static_cast<const char*>(frame.data());
  const std::string_view prefix(bytes + 1, frame.size() - 1);
  if (bytes[0] == 1) {
    if (guard.admit_subscription(frame, prefix)) xpub.set(zmq::sockopt::subscribe, prefix);
  } else if (bytes[0] == 0) {
    xpub.set(zmq::sockopt::unsubscribe, prefix);
  }
}

void publish_stats(zmq::socket_ref xpub, const Guard& guard, const Clock& clock, uint64_t& seq) {
  msg::Header header;
  header.sender = "bus";
  header.seq = ++seq;
  header.time_ms = clock.now_ms();
  const std::string head = codec::encode(header);
  const std::string body = codec::encode(guard.stats(header.time_ms));
  (void)xpub.send(zmq::buffer(kStatsTopic), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
  (void)xpub.send(zmq::buffer(head), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
  (void)xpub.send(zmq::buffer(body), zmq::send_flags::dontwait);
}

}  // namespace

ProxyEnd run_proxy(zmq::socket_ref xsub, zmq::socket_ref xpub, ProxyParts& parts, const Clock& clock,
                   const std::function<bool()>& stop) {
  constexpr int kBatch = 1000;  // per wake-up and direction, so that neither starves the other
  MessageDropper* dropper = parts.dropper;
  Guard* guard = parts.guard;
  if (guard != nullptr) (void)xsub.send(zmq::buffer(std::string_view("\x01", 1)), zmq::send_flags::none);
  std::vector<zmq::message_t> frames;
  int64_t last_report = clock.steady_ms();
  int64_t last_stats = clock.steady_ms();
  uint64_t stats_seq = 0;
  bool was_active = dropper != nullptr && dropper->active();
  ProxyEnd end = ProxyEnd::stopped;
  while (!stop()) {
    if (parts.revoked && parts.revoked()) {
      end = ProxyEnd::rebind;
      break;
    }
    zmq::pollitem_t items[] = {{xsub.handle(), 0, ZMQ_POLLIN, 0}, {xpub.handle(), 0, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 2, std::chrono::milliseconds(100));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
      continue;  // a signal: look at stop() and revoked() again
    }
    if (items[0].revents & ZMQ_POLLIN) {
      for (int n = 0; n < kBatch && receive_message(xsub, frames); ++n) {
        if (guard != nullptr && !guard->admit_message(frames[0])) continue;
        if (dropper != nullptr && dropper->drop()) continue;
        send_message(xpub, frames);
      }
    }
    if (items[1].revents & ZMQ_POLLIN) {
      for (int n = 0; n < kBatch && receive_message(xpub, frames); ++n) {
        if (guard != nullptr)
          judge_subscription(xpub, *guard, frames[0]);
        else
          send_message(xsub, frames);
      }
    }
    const int64_t now = clock.steady_ms();
    if (guard != nullptr && parts.stats_every_ms > 0 && now - last_stats >= parts.stats_every_ms) {
      publish_stats(xpub, *guard, clock, stats_seq);
      last_stats = now;
    }
    if (dropper != nullptr) {
      const bool active = dropper->active();
      if (was_active && !active) report(*dropper, "window ended");
      was_active = active;
      if (now - last_report >= parts.report_ms) {
        if (active) report(*dropper, "so far");
        last_report = now;
      }
    }
  }
  if (dropper != nullptr && end == ProxyEnd::stopped) report(*dropper, "at exit");
  return end;
}

}  // namespace pier::bus_proxy
