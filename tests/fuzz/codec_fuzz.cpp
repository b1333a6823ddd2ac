// The codec on every message type of common/messages.h: decoding never crashes and, when it succeeds,
// encode -> decode gives the same value back (compared by its encoding, the structs have no ==).
#include "common/codec.h"
#include "common/messages.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using namespace pier;

template <typename T>
void round_trip(std::string_view bytes) {
  auto decoded = codec::decode<T>(bytes);
  if (!decoded.ok()) return;
  const std::string once = codec::encode(*decoded);
  auto again = codec::decode<T>(once);
  fuzz::require(again.ok(), "what the codec encoded does not decode");
  fuzz::require(codec::encode(*again) == once, "encode -> decode -> encode changed the message");
}

template <typename... T>
void round_trip_all(std::string_view bytes) {
  (round_trip<T>(bytes), ...);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  round_trip_all<msg::Header, msg::AppSpec, msg::DeployCommand, msg::ScaleCommand, msg::RemoveCommand,
                 msg::PlaceCommand, msg::SnapshotRequest, msg::Reply, msg::State, msg::HostStatus, msg::HostSample,
                 msg::LbConfig, msg::AppMetrics, msg::AutoscaleDecision>(fuzz::text(data, size));
  return 0;
}
