#include "cli/deploy_spec.h"

#include <set>

#include <yaml-cpp/yaml.h>

#include "cli/args.h"
#include "common/validate.h"

namespace pier::cli {
namespace {

const std::set<std::string>& known_keys() {
  static const std::set<std::string> keys = {"name",     "image", "tag", "command", "ports",        "protocol",
                                             "replicas", "cpu",   "memory", "env",  "context_path", "algorithm"};
  return keys;
}

// "registry:5000/pier/demo-app:1.2" -> image "registry:5000/pier/demo-app", tag "1.2". A colon before the
// last '/' belongs to a registry host:port, not a tag.
void set_image(msg::AppSpec& spec, const std::string& reference) {
  const auto slash = reference.rfind('/');
  const auto colon = reference.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    spec.image = reference.substr(0, colon);
    spec.tag = reference.substr(colon + 1);
  } else {
    spec.image = reference;
  }
}

Result<std::string> scalar(const YAML::Node& node, const std::string& field) {
  if (!node.IsScalar()) return Status::Invalid(field, "must be a single value");
  return node.Scalar();
}

Status apply_env(msg::AppSpec& spec, const std::string& field, const std::string& text) {
  auto pair = validate::parse_env(field, text);
  if (!pair.ok()) return pair.status();
  spec.env[pair->first] = pair->second;
  return Status::Ok();
}

Result<msg::AppSpec> apply_yaml_node(const YAML::Node& root, msg::AppSpec spec) {
  if (root.IsNull()) return spec;
  if (!root.IsMap()) return Status::Invalid("app file", "must be a YAML map of fields (name: web, ...)");
  for (const auto& entry : root) {
    const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : std::string("?");
    const YAML::Node& value = entry.second;
    if (!known_keys().count(key)) {
      std::string known;
      for (const auto& k : known_keys()) known += (known.empty() ? "" : ", ") + k;
      return Status::Invalid(key.substr(0, 64), "unknown key in the app file (known keys: " + known + ")");
    }
    if (key == "command") {
      spec.command.clear();
      if (value.IsScalar()) {
        spec.command = split_words(value.Scalar());
      } else if (value.IsSequence()) {
        for (std::size_t i = 0; i < value.size(); ++i) {
          auto word = scalar(value[i], "command[" + std::to_string(i) + "]");
          if (!word.ok()) return word.status();
          spec.command.push_back(*word);
        }
      } else if (!value.IsNull()) {
        return Status::Invalid("command", "must be a string or a list of strings");
      }
    } else if (key == "ports") {
      spec.ports.clear();
      std::vector<std::pair<std::string, YAML::Node>> items;
      if (value.IsSequence()) {
        for (std::size_t i = 0; i < value.size(); ++i) items.emplace_back("ports[" + std::to_string(i) + "]", value[i]);
      } else if (value.IsScalar()) {
        items.emplace_back("ports", value);
      } else if (!value.IsNull()) {
        return Status::Invalid("ports", "must be a list of \"EXTERNAL:INTERNAL\" mappings");
      }
      for (const auto& [field, item] : items) {
        auto text = scalar(item, field);
        if (!text.ok()) return text.status();
        auto mapping = validate::parse_port_mapping(field, *text);
        if (!mapping.ok()) return mapping.status();
        spec.ports.push_back(*mapping);
      }
    } else if (key == "env") {
      spec.env.clear();
      if (value.IsMap()) {
        for (const auto& kv : value) {
          auto k = scalar(kv.first, "env");
          if (!k.ok()) return k.status();
          auto v = scalar(kv.second, "env." + *k);
          if (!v.ok()) return v.status();
          spec.env[*k] = *v;
        }
      } else if (value.IsSequence()) {
        for (std::size_t i = 0; i < value.size(); ++i) {
          auto text = scalar(value[i], "env[" + std::to_string(i) + "]");
          if (!text.ok()) return text.status();
          if (Status s = apply_env(spec, "env[" + std::to_string(i) + "]", *text); !s.ok()) return s;
        }
      } else if (!value.IsNull()) {
        return Status::Invalid("env", "must be a map of KEY: value");
      }
    } else {
      auto text = scalar(value, key);
      if (!text.ok()) return text.status();
      if (key == "name") spec.name = *text;
      else if (key == "image") set_image(spec, *text);
      else if (key == "tag") spec.tag = *text;
      else if (key == "protocol") spec.protocol = *text;
      else if (key == "context_path") spec.context_path = *text;
      else if (key == "algorithm") spec.algorithm = *text;
      else if (key == "replicas") {
        auto n = validate::parse_int("replicas", *text);
        if (!n.ok()) return n.status();
        spec.replicas = *n;
      } else if (key == "cpu") {
        auto c = validate::parse_cpu("cpu", *text);
        if (!c.ok()) return c.status();
        spec.cpu = *c;
      } else if (key == "memory") {
        auto m = validate::parse_memory("memory", *text);
        if (!m.ok()) return m.status();
        spec.memory_bytes = *m;
      }
    }
  }
  return spec;
}

}  // namespace

Result<msg::AppSpec> apply_yaml(const std::string& yaml_text, msg::AppSpec spec) {
  try {
    return apply_yaml_node(YAML::Load(yaml_text), std::move(spec));
  } catch (const YAML::Exception& e) {
    return Status::Invalid("app file", std::string("is not valid YAML: ") + e.what());
  }
}

Result<msg::AppSpec> apply_flags(const DeployFlags& flags, msg::AppSpec spec) {
  if (flags.name) spec.name = *flags.name;
  if (flags.image) set_image(spec, *flags.image);
  if (flags.tag) spec.tag = *flags.tag;
  if (!flags.command.empty()) {
    spec.command.clear();
    for (const auto& c : flags.command)
      for (auto& word : split_words(c)) spec.command.push_back(std::move(word));
  }
  if (!flags.ports.empty()) {
    spec.ports.clear();
    for (const auto& p : flags.ports) {
      auto mapping = validate::parse_port_mapping("port", p);
      if (!mapping.ok()) return mapping.status();
      spec.ports.push_back(*mapping);
    }
  }
  if (flags.protocol) spec.protocol = *flags.protocol;
  if (flags.replicas) {
    auto n = validate::parse_int("replicas", *flags.replicas);
    if (!n.ok()) return n.status();
    spec.replicas = *n;
  }
  if (flags.cpu) {
    auto c = validate::parse_cpu("cpu", *flags.cpu);
    if (!c.ok()) return c.status();
    spec.cpu = *c;
  }
  if (flags.memory) {
    auto m = validate::parse_memory("memory", *flags.memory);
    if (!m.ok()) return m.status();
    spec.memory_bytes = *m;
  }
  for (const auto& e : flags.env)
    if (Status s = apply_env(spec, "env", e); !s.ok()) return s;
  if (flags.context_path) spec.context_path = *flags.context_path;
  if (flags.algorithm) spec.algorithm = *flags.algorithm;
  return spec;
}

Result<msg::AppSpec> build_spec(const std::optional<std::string>& yaml_text, const DeployFlags& flags) {
  msg::AppSpec spec;
  if (yaml_text) {
    auto from_file = apply_yaml(*yaml_text, spec);
    if (!from_file.ok()) return from_file.status();
    spec = std::move(*from_file);
  }
  auto merged = apply_flags(flags, std::move(spec));
  if (!merged.ok()) return merged.status();
  if (Status s = validate::app_spec(*merged); !s.ok()) return s;
  return merged;
}

}  // namespace pier::cli
