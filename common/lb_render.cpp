#include "common/lb_render.h"

#include <kainjow/mustache.hpp>
#include <string_view>

#include "common/hash.h"

namespace pier::lb {
namespace {

using kainjow::mustache::data;
using kainjow::mustache::mustache;

data route_data(const msg::LbRoute& route) {
  data d;
  d.set("context_path", route.context_path);
  d.set("backend", route.backend);
  d.set("acl", "path_" + route.backend);  // backend names are unique within a frontend
  d.set("is_default", data(route.context_path == "/"));
  return d;
}

data spec_data(const msg::LbSpec& spec) {
  data root;
  root.set("host_id", spec.host_id);
  root.set("bind_address", spec.bind_address);
  root.set("stats_socket", spec.stats_socket);
  root.set("stats_port", std::to_string(spec.stats_port));
  root.set("has_stats_socket", data(!spec.stats_socket.empty()));
  root.set("has_stats_port", data(spec.stats_port > 0));

  data frontends{data::type::list};
  for (const auto& fe : spec.frontends) {
    data f;
    f.set("name", fe.name);
    f.set("port", std::to_string(fe.port));
    f.set("mode", fe.mode);
    f.set("http", data(fe.mode == "http"));
    f.set("tcp", data(fe.mode == "tcp"));
    data routes{data::type::list};
    data path_routes{data::type::list};
    data default_route{data::type::bool_false};
    for (const auto& route : fe.routes) {
      routes.push_back(route_data(route));
      if (route.context_path == "/")
        default_route = route_data(route);
      else
        path_routes.push_back(route_data(route));
    }
    f.set("routes", routes);
    f.set("path_routes", path_routes);
    f.set("default_route", default_route);
    frontends.push_back(f);
  }
  root.set("frontends", frontends);

  data backends{data::type::list};
  for (const auto& be : spec.backends) {
    data b;
    b.set("name", be.name);
    b.set("app", be.app);
    b.set("mode", be.mode);
    b.set("algorithm", be.algorithm);
    b.set("consistent_hash", data(be.algorithm == "source" || be.algorithm == "uri"));
    b.set("server_options", be.proxy_protocol ? " send-proxy-v2" : "");
    b.set("http", data(be.mode == "http"));
    b.set("tcp", data(be.mode == "tcp"));
    b.set("health_path", be.health_path);
    b.set("check_rise", std::to_string(be.check_rise));
    b.set("check_fall", std::to_string(be.check_fall));
    b.set("check_inter_ms", std::to_string(be.check_inter_ms));
    b.set("check_fastinter_ms", std::to_string(be.check_fastinter_ms > 0 ? be.check_fastinter_ms : be.check_inter_ms));
    data servers{data::type::list};
    for (const auto& server : be.servers) {
      data s;
      s.set("name", server.name);
      s.set("address", server.address);
      s.set("port", std::to_string(server.port));
      s.set("fail_open_name", server.name + msg::kFailOpenSuffix);
      servers.push_back(s);
    }
    b.set("servers", servers);
    backends.push_back(b);
  }
  root.set("backends", backends);
  return root;
}

msg::LbSpec sample_spec() {
  msg::LbSpec spec{"sample-host", "127.0.0.1", "/run/pier/haproxy.sock", 9000, {}, {}};
  spec.frontends = {
      {"fe_80", 80, "http", {{"/api", "app_api_8000"}, {"/", "app_web_8000"}}},
      {"fe_5432", 5432, "tcp", {{"/", "app_db_5432"}}},
  };
  spec.backends = {
      {"app_api_8000", "api", "http", "leastconn", {{"api-1", "127.100.0.2", 8000}}, "/healthz", 2, 3, 2000},
      {"app_db_5432", "db", "tcp", "source", {{"db-3", "127.100.0.4", 5432}}, "/", 2, 3, 2000},
      {"app_web_8000", "web", "http", "roundrobin", {{"web-2", "127.100.0.3", 8000}}, "/", 2, 3, 2000},
  };
  return spec;
}

// Mustache drops "standalone" lines, those holding only a section or comment tag. The kainjow version
// at hand does so only for sections it renders: a false or empty section leaves a blank line. So the
// standalone tags are put inline here, before parsing, which gives the standard output. Each inlined
// tag is followed by kMarker, removed after rendering, so that kainjow's own standalone rule never
// sees a line of tags alone again. (Assumes the default {{ }} delimiters.)
constexpr char kMarker = '\x1f';

std::string inline_standalone_tags(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    const bool has_newline = end != std::string::npos;
    if (!has_newline) end = text.size();
    const std::string_view line(text.data() + start, end - start);
    const std::size_t first = line.find_first_not_of(" \t");
    const std::size_t last = line.find_last_not_of(" \t\r");
    bool standalone = false;
    if (first != std::string_view::npos && has_newline) {
      const std::string_view tag = line.substr(first, last - first + 1);
      standalone = tag.size() >= 5 && tag.substr(0, 2) == "{{" && tag.substr(tag.size() - 2) == "}}" &&
                   std::string_view("#^/!").find(tag[2]) != std::string_view::npos &&
                   tag.find("{{", 2) == std::string_view::npos && tag.find("}}") == tag.size() - 2;
      if (standalone) {
        out.append(tag);
        out.push_back(kMarker);
      }
    }
    if (!standalone) {
      out.append(line);
      if (has_newline) out.push_back('\n');
    }
    start = end + 1;
  }
  return out;
}

}  // namespace

std::string config_hash(std::string_view text) { return hash::fnv1a_hex(text); }

Result<std::string> render(const msg::LbSpec& spec, const std::string& template_text) {
  if (template_text.find(kMarker) != std::string::npos)
    return Status::Error("template: must not contain the control character 0x1f");
  mustache tmpl{inline_standalone_tags(template_text)};
  if (!tmpl.is_valid()) return Status::Error("template: " + tmpl.error_message());
  tmpl.set_custom_escape([](const std::string& s) { return s; });  // a config file, not HTML
  std::string text = tmpl.render(spec_data(spec));
  if (!tmpl.is_valid()) return Status::Error("template: " + tmpl.error_message());
  std::erase(text, kMarker);
  return text;
}

Status check_template(const std::string& template_text) {
  auto text = render(sample_spec(), template_text);
  if (!text.ok()) return text.status();
  if (text->find_first_not_of(" \t\r\n") == std::string::npos)
    return Status::Error("template: renders to an empty configuration");
  return Status::Ok();
}

}  // namespace pier::lb
