#include "common/codec.h"

namespace pier::codec {

Status unpack(std::string_view bytes, msgpack::object_handle& handle, const Limits& limits) {
  if (bytes.empty()) return Status::Error("empty frame");
  try {
    std::size_t offset = 0;
    msgpack::unpack_limit limit(limits.array, limits.map, limits.str, limits.bin, limits.ext, limits.depth);
    handle = msgpack::unpack(bytes.data(), bytes.size(), offset, nullptr, nullptr, limit);
    if (offset != bytes.size()) return Status::Error("trailing bytes after the message");
  } catch (const msgpack::insufficient_bytes&) {
    return Status::Error("truncated message");
  } catch (const msgpack::depth_size_overflow&) {
    return Status::Error("message nests too deeply");
  } catch (const msgpack::size_overflow& e) {
    return Status::Error(std::string("message exceeds a size limit: ") + e.what());
  } catch (const std::exception& e) {
    return Status::Error(std::string("malformed msgpack: ") + e.what());
  }
  return Status::Ok();
}

}  // namespace pier::codec
