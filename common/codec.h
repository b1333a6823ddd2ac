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

namespace detail {
// Whether `object` converts into a T (a trial of find_mismatch).
template <typename T>
bool converts(const msgpack::object& object) {
  try {
    T value{};
    object.convert(value);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}
// The field of `input` (a map that does not convert) that does not convert, as "app.ports[0].external",
// and its rule ("must be an integer, not a string"), found by converting the path to one field at a time:
// a missing key keeps its default, so a map holding only the path to one value converts unless that value
// is wrong. `defaults` (T{} as an object) tells the type a field should have. Without such a field (every
// value fine alone) the error names no field.
Status find_mismatch(const msgpack::object& input, const msgpack::object& defaults,
                     bool (*converts)(const msgpack::object&));
}  // namespace detail

template <typename T>
std::string encode(const T& value) {
  msgpack::sbuffer buffer;
  msgpack::pack(buffer, value);
  return std::string(buffer.data(), buffer.size());
}

// Decodes a map-shaped message. Unknown keys are ignored, missing keys keep T's defaults; anything
// else (truncation, wrong types, trailing bytes, limits) is an error value. A value of the wrong type
// is named: Status::Invalid("app.memory_bytes", "must be an integer, not a string").
template <typename T>
Result<T> decode(std::string_view bytes, const Limits& limits = {}) {
  msgpack::object_handle handle;
  if (Status s = unpack(bytes, handle, limits); !s.ok()) return s;
  if (handle.get().type != msgpack::type::MAP) return Status::Error("message is not a msgpack map");
  try {
    T value{};
    handle.get().convert(value);
    return value;
  } catch (const std::exception&) {
    msgpack::zone zone;
    const T defaults{};
    return detail::find_mismatch(handle.get(), msgpack::object(defaults, zone), &detail::converts<T>);
  }
}

}  // namespace pier::codec
