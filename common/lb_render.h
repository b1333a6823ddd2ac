// Rendering an LbSpec into haproxy.cfg text with a mustache template: pier-lbgen's built-in one
// (services/lbgen/haproxy.cfg.mustache) or an operator's own. lbgen renders with it for agents that
// take a rendered config (lb.config.<host>); agents render the fleet's spec (lb.spec) with it themselves.
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
#include <string_view>

#include "common/messages.h"
#include "common/status.h"

namespace pier::lb {

// The config for `spec`, or why the template cannot be rendered (a mustache syntax error).
Result<std::string> render(const msg::LbSpec& spec, const std::string& template_text);

// The hash that names a rendered configuration (LbConfig.hash, LbStatus.hash): common/hash.h of the
// text. lbgen and agents rendering the same spec with the same template name it alike.
std::string config_hash(std::string_view text);

// Renders a sample spec (http and tcp frontends, every algorithm) to tell whether a template is usable.
// Says what is wrong when it is not.
Status check_template(const std::string& template_text);

}  // namespace pier::lb
