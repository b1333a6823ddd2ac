// The hash that names a rendered configuration (LbConfig.hash, LbStatus.hash): common/hash.h of the
// text, as 16 lowercase hex digits. It tells configs apart; it is not a security measure.
#pragma once

#include <string>
#include <string_view>

namespace pier::lbgen {

std::string config_hash(std::string_view text);

}  // namespace pier::lbgen
