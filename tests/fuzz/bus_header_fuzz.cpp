// A message as a subscriber receives it: [topic][header][body], the frames split here at the first two
// 0xff 0x00 pairs of the input. The header is decoded as bus::Subscriber::receive does; a header that
// decodes survives a round trip.
#include "common/codec.h"
#include "common/messages.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pier;
  const std::string_view input = fuzz::text(data, size);
  constexpr std::string_view kSplit("\xff\x00", 2);
  const std::size_t first = input.find(kSplit);
  const std::string_view header_frame = first == std::string_view::npos ? input : input.substr(first + 2);
  const std::size_t second = header_frame.find(kSplit);
  auto header = codec::decode<msg::Header>(header_frame.substr(0, second));
  if (!header.ok()) {
    fuzz::require(!header.status().message().empty(), "a refused header has no reason");
    return 0;
  }
  const std::string once = codec::encode(*header);
  auto again = codec::decode<msg::Header>(once);
  fuzz::require(again.ok() && codec::encode(*again) == once, "a header does not survive a round trip");
  return 0;
}
