#include "services/lbgen/render.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "services/lbgen/haproxy_cfg_template.h"  // generated from haproxy.cfg.mustache

namespace pier::lbgen {

const std::string& default_template() {
  static const std::string text(kHaproxyCfgTemplate);
  return text;
}

Result<std::string> load_template(const std::string& path) {
  if (path.empty()) return default_template();
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status))
    return Status::Error("cannot read template " + path + ": " + (ec ? ec.message() : "no such file"));
  if (!std::filesystem::is_regular_file(status)) return Status::Error("template " + path + " is not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error("cannot read template " + path + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();  // an empty file sets failbit here; check_template says what is wrong with it
  if (in.bad()) return Status::Error("cannot read template " + path + ": read error");
  if (Status s = check_template(text.str()); !s.ok())
    return Status::Error("template " + path + " is unusable: " + s.message());
  return text.str();
}

}  // namespace pier::lbgen
