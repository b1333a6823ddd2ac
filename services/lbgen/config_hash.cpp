#include "services/lbgen/config_hash.h"

#include "common/hash.h"

namespace pier::lbgen {

std::string config_hash(std::string_view text) { return hash::fnv1a_hex(text); }

}  // namespace pier::lbgen
