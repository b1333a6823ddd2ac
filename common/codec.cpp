#include "common/codec.h"

#include <algorithm>
#include <vector>

namespace pier::codec {

Status unpack(std::string_view bytes, msgpack::object_handle& handle, const Limits& limits) {
  if (bytes.empty()) return Status::Error("empty frame");
  try {
    std::size_t offset = 0;
    // msgpack-c reserves an array's or map's entries when it reads the count, before their bytes: every
    // entry takes at least one byte (a map's two), so no count may exceed what the frame holds. Without
    // this, 32 nested map headers of 5 bytes each claiming 100,000 entries reserved ~150 MB for a 160-byte
    // frame (seen profiling tests/fuzz's codec target).
    const std::size_t array = std::min(limits.array, bytes.size());
    const std::size_t map = std::min(limits.map, bytes.size() / 2);
    msgpack::unpack_limit limit(array, map, limits.str, limits.bin, limits.ext, limits.depth);
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

namespace detail {
namespace {

// One step from a map or array to one of its values.
struct Step {
  const msgpack::object* key = nullptr;  // into a map: its key (a string)
  std::size_t index = 0;                 // into an array: the element's index
};

std::string describe(const msgpack::object& object) {
  switch (object.type) {
    case msgpack::type::NIL:
      return "nil";
    case msgpack::type::BOOLEAN:
      return "a boolean";
    case msgpack::type::POSITIVE_INTEGER:
    case msgpack::type::NEGATIVE_INTEGER:
      return "an integer";
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      return "a number";
    case msgpack::type::STR:
      return "a string";
    case msgpack::type::BIN:
      return "binary";
    case msgpack::type::ARRAY:
      return "an array";
    case msgpack::type::MAP:
      return "a map";
    default:
      return "an extension";
  }
}

std::string rule_for(const msgpack::object& got, const msgpack::object* expected) {
  if (expected == nullptr) return "has the wrong type: " + describe(got) + " is not accepted here";
  const std::string want = describe(*expected);
  if (want == "an integer" && describe(got) == want) return "is out of range for this field";
  if (want == describe(got)) return "does not match its schema";
  return "must be " + want + ", not " + describe(got);
}

const msgpack::object* member(const msgpack::object* map, const msgpack::object& key) {
  if (map == nullptr || map->type != msgpack::type::MAP) return nullptr;
  for (uint32_t i = 0; i < map->via.map.size; ++i)
    if (map->via.map.ptr[i].key == key) return &map->via.map.ptr[i].val;
  return nullptr;
}

// The message that holds only `leaf`, reached from the root by `path`.
msgpack::object wrap(const std::vector<Step>& path, const msgpack::object& leaf, msgpack::zone& zone) {
  msgpack::object inner = leaf;
  for (auto step = path.rbegin(); step != path.rend(); ++step) {
    msgpack::object outer;
    if (step->key != nullptr) {
      auto* kv = static_cast<msgpack::object_kv*>(zone.allocate_align(sizeof(msgpack::object_kv)));
      kv->key = *step->key;
      kv->val = inner;
      outer.type = msgpack::type::MAP;
      outer.via.map = {1, kv};
    } else {
      auto* element = static_cast<msgpack::object*>(zone.allocate_align(sizeof(msgpack::object)));
      *element = inner;
      outer.type = msgpack::type::ARRAY;
      outer.via.array = {1, element};
    }
    inner = outer;
  }
  return inner;
}

std::string name_of(const std::vector<Step>& path) {
  std::string name;
  for (const auto& step : path) {
    if (step.key != nullptr) {
      if (!name.empty()) name += '.';
      // A hostile key goes into a reply and a log line: at most 64 characters, printable ones only.
      const std::string_view key(step.key->via.str.ptr, std::min<uint32_t>(step.key->via.str.size, 64));
      for (char c : key) name += (c >= 0x20 && c < 0x7f) ? c : '?';
    } else {
      name += "[" + std::to_string(step.index) + "]";
    }
  }
  return name;
}

}  // namespace

Status find_mismatch(const msgpack::object& input, const msgpack::object& defaults,
                     bool (*converts)(const msgpack::object&)) {
  msgpack::zone zone;
  std::vector<Step> path;
  const msgpack::object* current = &input;
  const msgpack::object* expected = &defaults;  // what the field at `path` looks like by default, if known
  for (;;) {
    bool deeper = false;
    if (current->type == msgpack::type::MAP) {
      for (uint32_t i = 0; i < current->via.map.size && !deeper; ++i) {
        const msgpack::object_kv& kv = current->via.map.ptr[i];
        if (kv.key.type != msgpack::type::STR)
          return Status::Invalid(path.empty() ? "body" : name_of(path), "has a key that is not a string");
        path.push_back({&kv.key, 0});
        if (!converts(wrap(path, kv.val, zone))) {
          current = &kv.val;
          expected = member(expected, kv.key);
          deeper = true;
        } else {
          path.pop_back();
        }
      }
    } else if (current->type == msgpack::type::ARRAY) {
      for (uint32_t i = 0; i < current->via.array.size && !deeper; ++i) {
        path.push_back({nullptr, i});
        if (!converts(wrap(path, current->via.array.ptr[i], zone))) {
          current = &current->via.array.ptr[i];
          const bool known =
              expected != nullptr && expected->type == msgpack::type::ARRAY && expected->via.array.size > 0;
          expected = known ? &expected->via.array.ptr[0] : nullptr;
          deeper = true;
        } else {
          path.pop_back();
        }
      }
    }
    if (!deeper) break;
  }
  if (path.empty()) return Status::Error("message does not match its schema");
  return Status::Invalid(name_of(path), rule_for(*current, expected));
}

}  // namespace detail

}  // namespace pier::codec
