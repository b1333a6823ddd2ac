// The hash that names a rendered configuration: common/lb_render.h's (agents that render their own
// config name it the same way).
#pragma once

#include "common/lb_render.h"

namespace pier::lbgen {

using lb::config_hash;

}  // namespace pier::lbgen
