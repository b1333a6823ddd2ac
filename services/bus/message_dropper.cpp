#include "services/bus/message_dropper.h"

#include <string>

namespace pier::bus_proxy {

Status check(const DropOptions& options) {
  if (!(options.share >= 0 && options.share <= 1)) return Status::Invalid("drop-share", "must be between 0 and 1");
  if (options.for_ms < 0) return Status::Invalid("drop-for-ms", "must be 0 (no end) or a positive number of ms");
  return Status::Ok();
}

MessageDropper::MessageDropper(const DropOptions& options, const Clock& clock)
    : options_(options), clock_(clock), started_ms_(clock.steady_ms()), random_(options.seed) {}

bool MessageDropper::active() const {
  return options_.share > 0 && (options_.for_ms == 0 || clock_.steady_ms() - started_ms_ < options_.for_ms);
}

bool MessageDropper::drop() {
  ++seen_;
  if (!active()) return false;
  // 53 random bits as a double in [0, 1): the same on every platform, unlike std's distributions.
  const double draw = static_cast<double>(random_() >> 11) * 0x1.0p-53;
  if (draw >= options_.share) return false;
  ++dropped_;
  return true;
}

}  // namespace pier::bus_proxy
