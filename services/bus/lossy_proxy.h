// The XSUB/XPUB proxy as pier's own poll loop, so that fault injection can drop whole messages.
// Subscription frames flow from XPUB to XSUB unchanged; messages flow from XSUB to XPUB unless the
// dropper drops them (all frames of a message, never part of one).
#pragma once

#include <functional>
#include <zmq.hpp>

#include "common/clock.h"
#include "services/bus/message_dropper.h"

namespace pier::bus_proxy {

// Runs until `stop()` returns true (checked at least every 100 ms). Logs the drop counts every
// `report_ms` and once at the end. Throws zmq::error_t when a socket fails.
void run_lossy_proxy(zmq::socket_ref xsub, zmq::socket_ref xpub, MessageDropper& dropper, const Clock& clock,
                     const std::function<bool()>& stop, int64_t report_ms = 10'000);

}  // namespace pier::bus_proxy
