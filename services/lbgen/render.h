// The template pier-lbgen renders with: the built-in one (a copy of services/lbgen/haproxy.cfg.mustache,
// embedded at build time) or an operator's own. Rendering itself is common/lb_render.h (agents render
// the fleet's spec with the same code and the template lbgen sends them).
#pragma once

#include <string>

#include "common/lb_render.h"
#include "common/status.h"

namespace pier::lbgen {

using lb::check_template;
using lb::render;

// The built-in template.
const std::string& default_template();

// The template pier-lbgen starts with: the built-in one when `path` is empty, else the file's text.
// Says why when the file cannot be read (missing, a folder, unreadable) or the template is unusable
// (check_template), naming the file.
Result<std::string> load_template(const std::string& path);

}  // namespace pier::lbgen
