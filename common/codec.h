// The one codec: msgpack maps in, msgpack maps out. Decoding never throws and never trusts its input:
// every unpack runs under tight size and depth limits, so a hostile frame cannot make a service
// allocate gigabytes or recurse without bound.
#pragma once

#include <msgpack.hpp>
#include <string>
#include <string_view>

#include "common/status.h"

namespace pier::codec {

// Upper bounds for one decoded frame. A frame that exceeds any of them is rejected.
struct Limits {
  std::size_t array = 100'000;
  std::size_t map = 100'000;
  std::size_t str = 16u << 20;
  std::size_t bin = 16u << 20;
  std::size_t ext = 1u << 20;
  std::size_t depth = 32;
};

// Unpacks bytes into a msgpack object held by `handle`, or says why it cannot.
Status unpack(std::string_view bytes, msgpack::object_handle& handle, const Limits& limits = {});

template <typename T>
std::string encode(const T& value) {
  msgpack::sbuffer buffer;
  msgpack::pack(buffer, value);
  return std::string(buffer.data(), buffer.size());
}

// Decodes a map-shaped message. Unknown keys are ignored, missing keys keep T's defaults; anything
// else (truncation, wrong types, trailing bytes, limits) is an error value.
template <typename T>
Result<T> decode(std::string_view bytes, const Limits& limits = {}) {
  msgpack::object_handle handle;
  if (Status s = unpack(bytes, handle, limits); !s.ok()) return s;
  if (handle.get().type != msgpack::type::MAP) return Status::Error("message is not a msgpack map");
  try {
    T value{};
    handle.get().convert(value);
    return value;
  } catch (const std::exception& e) {
    return Status::Error(std::string("message does not match its schema: ") + e.what());
  }
}

}  // namespace pier::codec
