// The XSUB/XPUB proxy as pier's own poll loop: subscriptions flow from XPUB to XSUB, messages from
// XSUB to XPUB, each read whole and then judged: dropped by fault injection (MessageDropper), or, on
// a CURVE bus, refused when its key's role may not publish its topic (Guard). On a CURVE bus the XPUB
// socket is in manual mode: each subscription is made for its peer only when its key may read it, and
// XSUB subscribes to everything once (the guard has to see every message anyway).
#pragma once

#include <functional>
#include <zmq.hpp>

#include "common/clock.h"
#include "services/bus/guard.h"
#include "services/bus/message_dropper.h"

namespace pier::bus_proxy {

struct ProxyParts {
  MessageDropper* dropper = nullptr;  // fault injection, or none
  Guard* guard = nullptr;             // per-topic checks (XPUB_MANUAL set before bind), or none
  // Asked every loop turn: true when the allowlist was reloaded and a key revoked, so that the caller
  // closes both sockets (every connection of the revoked key with them) and binds again.
  std::function<bool()> revoked;
  int64_t stats_every_ms = 5000;  // bus.stats from the guard this often; 0: never
  int64_t report_ms = 10'000;     // fault injection's counts in the log this often
};

enum class ProxyEnd { stopped, rebind };

// Subscribes `xsub` to every topic when there is a guard. Runs until `stop()` returns true (checked
// at least every 100 ms) or `parts.revoked()` does. Throws zmq::error_t when a socket fails.
ProxyEnd run_proxy(zmq::socket_ref xsub, zmq::socket_ref xpub, ProxyParts& parts, const Clock& clock,
                   const std::function<bool()>& stop);

}  // namespace pier::bus_proxy
