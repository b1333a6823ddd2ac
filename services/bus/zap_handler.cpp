#include "services/bus/zap_handler.h"

#include <spdlog/spdlog.h>

#include <zmq_addon.hpp>

namespace pier::bus_proxy {

ZapAnswer judge_zap(const keys::Allowlist& list, const std::vector<std::string>& request) {
  // version, request id, domain, address, routing id, mechanism, credentials...
  if (request.size() < 6 || request[0] != "1.0") return {"400", "malformed ZAP request", ""};
  const std::string& domain = request[2];
  if (domain != kPublishersDomain && domain != kSubscribersDomain) return {"400", "unknown ZAP domain", ""};
  if (request[5] != "CURVE" || request.size() != 7 || request[6].size() != 32)
    return {"400", "only CURVE clients are admitted", ""};
  char z85[keys::kZ85KeyChars + 1];
  if (zmq_z85_encode(z85, reinterpret_cast<const uint8_t*>(request[6].data()), 32) == nullptr)
    return {"400", "malformed key", ""};
  const keys::AllowedKey* key = list.find_key(z85);
  if (key == nullptr) return {"400", "key not in the allowlist", ""};
  return {"200", "OK", key->name};
}

ZapHandler::ZapHandler(zmq::context_t& context, const KeyRing& ring) : ring_(ring) {
  zmq::socket_t socket(context, zmq::socket_type::rep);
  socket.set(zmq::sockopt::linger, 0);
  socket.bind("inproc://zeromq.zap.01");  // before any CURVE server binds
  // The socket moves to the handler's thread here and is used only there from now on.
  thread_ = std::thread([this, s = std::move(socket)]() mutable { serve(std::move(s)); });
}

ZapHandler::~ZapHandler() {
  stop_ = true;
  thread_.join();
}

void ZapHandler::serve(zmq::socket_t socket) {
  std::set<std::string> logged;
  while (!stop_) {
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    try {
      if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) == 0) continue;
      std::vector<zmq::message_t> frames;
      if (!zmq::recv_multipart(socket, std::back_inserter(frames), zmq::recv_flags::dontwait)) continue;
      std::vector<std::string> request;
      for (const auto& f : frames) request.push_back(f.to_string());
      const ZapAnswer answer = judge_zap(*ring_.get(), request);
      const std::string address = request.size() > 3 ? request[3] : "";
      if (answer.status_code == "200") {
        ++admitted_;
        spdlog::debug("admitted key {} from {} ({})", answer.user_id, address, request[2]);
      } else {
        ++denied_;
        if (logged.insert(address + answer.status_text).second)
          spdlog::warn("denied a client at {}: {} (further denials of it are counted)", address, answer.status_text);
      }
      const std::string request_id = request.size() > 1 ? request[1] : "";
      std::array<zmq::const_buffer, 6> reply = {zmq::str_buffer("1.0"),          zmq::buffer(request_id),
                                                zmq::buffer(answer.status_code), zmq::buffer(answer.status_text),
                                                zmq::buffer(answer.user_id),     zmq::const_buffer()};
      zmq::send_multipart(socket, reply);
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;  // a signal (SIGHUP reloads): keep answering
      if (e.num() == ETERM) return;
      spdlog::error("ZAP handler: {}", e.what());
    }
  }
}

}  // namespace pier::bus_proxy
