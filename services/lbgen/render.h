// Rendering an LbSpec into haproxy.cfg text with a mustache template: the built-in one (a copy of
// services/lbgen/haproxy.cfg.mustache, embedded at build time) or an operator's own.
//
// What a template sees (values are inserted as is, no HTML escaping):
//   host_id, bind_address, stats_socket, stats_port, has_stats_socket, has_stats_port
//   frontends[]: name, port, mode, http, tcp,
//                routes[]: context_path, backend, acl, is_default
//                path_routes[]: the routes other than "/", longest path first (same fields)
//                default_route: the "/" route (backend) when there is one, else false
//   backends[]: name, app, mode, algorithm, consistent_hash (algorithm is source),
//               servers[]: name, address, port
#pragma once

#include <string>

#include "common/messages.h"
#include "common/status.h"

namespace pier::lbgen {

// The built-in template.
const std::string& default_template();

// The config for `spec`, or why the template cannot be rendered (a mustache syntax error).
Result<std::string> render(const msg::LbSpec& spec, const std::string& template_text);

// The template pier-lbgen starts with: the built-in one when `path` is empty, else the file's text.
// Says why when the file cannot be read (missing, a folder, unreadable) or the template is unusable
// (check_template), naming the file.
Result<std::string> load_template(const std::string& path);

// Renders a sample spec (http and tcp frontends, every algorithm) to tell at startup whether a
// template is usable. Says what is wrong when it is not.
Status check_template(const std::string& template_text);

}  // namespace pier::lbgen
