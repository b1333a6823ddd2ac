#include "services/bus/lossy_proxy.h"

#include <spdlog/spdlog.h>

#include <vector>

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

}  // namespace

void run_lossy_proxy(zmq::socket_ref xsub, zmq::socket_ref xpub, MessageDropper& dropper, const Clock& clock,
                     const std::function<bool()>& stop, int64_t report_ms) {
  constexpr int kBatch = 1000;  // per wake-up and direction, so that neither starves the other
  std::vector<zmq::message_t> frames;
  int64_t last_report = clock.steady_ms();
  bool was_active = dropper.active();
  while (!stop()) {
    zmq::pollitem_t items[] = {{xsub.handle(), 0, ZMQ_POLLIN, 0}, {xpub.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 2, std::chrono::milliseconds(100));
    if (items[0].revents & ZMQ_POLLIN)
      for (int n = 0; n < kBatch && receive_message(xsub, frames); ++n)
        if (!dropper.drop()) send_message(xpub, frames);
    if (items[1].revents & ZMQ_POLLIN)
      for (int n = 0; n < kBatch && receive_message(xpub, frames); ++n) send_message(xsub, frames);
    const bool active = dropper.active();
    if (was_active && !active) report(dropper, "window ended");
    was_active = active;
    if (clock.steady_ms() - last_report >= report_ms) {
      if (active) report(dropper, "so far");
      last_report = clock.steady_ms();
    }
  }
  report(dropper, "at exit");
}

}  // namespace pier::bus_proxy
