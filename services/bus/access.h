// Who may publish and subscribe to what on the bus: a pure function of a key's role and name and a
// topic (or a subscription prefix). The table is docs/SECURITY.md's; pier-bus applies it to every
// message and every subscription of a CURVE client.
#pragma once

#include <string_view>

#include "common/keys.h"

namespace pier::bus_proxy {

// Whether a key may publish a message on `topic` (its first frame).
bool may_publish(keys::Role role, std::string_view name, std::string_view topic);
// Whether a key may subscribe to `prefix`: the prefix must lie inside one the role may read (a shorter
// prefix would also match topics it may not read; the empty prefix matches everything).
bool may_subscribe(keys::Role role, std::string_view name, std::string_view prefix);

// What pier-bus itself publishes, every --stats-every-ms: BusStats (services/bus/guard.h).
inline constexpr std::string_view kStatsTopic = "bus.stats";

}  // namespace pier::bus_proxy
