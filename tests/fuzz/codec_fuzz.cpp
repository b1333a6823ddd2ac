// The codec on every message type of common/messages.h: decoding never crashes and, when it succeeds,
// encode -> decode gives the same value back (compared by its encoding, the structs have no ==).
#include <iterator>

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

using RoundTrip = void (*)(std::string_view);

// The first byte of an input picks the type (tests/fuzz/seeds/make_seeds.cpp writes seeds in this order),
// the rest is the message: one decode per input instead of one per type keeps the run fast.
constexpr RoundTrip kTypes[] = {
    round_trip<msg::Header>,          round_trip<msg::AppSpec>,
    round_trip<msg::DeployCommand>,   round_trip<msg::ScaleCommand>,
    round_trip<msg::RemoveCommand>,   round_trip<msg::PlaceCommand>,
    round_trip<msg::SnapshotRequest>, round_trip<msg::Reply>,
    round_trip<msg::State>,           round_trip<msg::HostStatus>,
    round_trip<msg::HostSample>,      round_trip<msg::LbConfig>,
    round_trip<msg::AppMetrics>,      round_trip<msg::AutoscaleDecision>,
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  kTypes[data[0] % std::size(kTypes)](fuzz::text(data + 1, size - 1));
  return 0;
}
