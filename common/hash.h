// FNV-1a 64-bit of bytes, as 16 lowercase hex digits: names a text (a rendered config, a set of server
// names) so that two can be compared by their names. It tells texts apart; it is not a security measure.
#pragma once

#include <string>
#include <string_view>

namespace pier::hash {

std::string fnv1a_hex(std::string_view text);

}  // namespace pier::hash
