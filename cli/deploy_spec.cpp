#include "cli/deploy_spec.h"

#include <yaml-cpp/yaml.h>

#include <set>

#include "cli/args.h"
#include "common/validate.h"

namespace pier::cli {
namespace {

const std::set<std::string>& known_keys() {
  static const std::set<std::string> keys = {"name",
                                             "image",
                                             "tag",
                                             "command",
                                             "ports",
                                             "protocol",
                                             "replicas",
                                             "cpu",
                                             "memory",
                                             "env",
                                             "context_path",
                                             "algorithm",
                                             "health_path",
                                             "check_rise",
                                             "check_fall",
                                             "check_inter_ms",
                                             "autoscale",
                                             "drain_timeout_ms",
                                             "proxy_protocol",
                                             "max_surge",
                                             "max_unavailable",
                                             "rollout_timeout_ms"};
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

// "2000", "2000ms" or "2s" -> milliseconds.
Result<int> parse_interval_ms(const std::string& field, std::string text) {
  int scale = 1;
  if (text.size() > 2 && text.ends_with("ms")) {
    text.resize(text.size() - 2);
  } else if (text.size() > 1 && text.ends_with("s")) {
    text.resize(text.size() - 1);
    scale = 1000;
  }
  auto n = validate::parse_int(field, text);
  if (!n.ok() || *n < 0 || *n > validate::kMaxCheckInterMs / scale)
    return Status::Invalid(field, "must be a duration such as 2000, 500ms or 2s");
  return *n * scale;
}

Status unknown_key(const std::string& field, const std::string& key, const std::set<std::string>& known) {
  std::string list;
  for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
  return Status::Invalid(field + "." + key.substr(0, 64), "unknown key (known keys: " + list + ")");
}

Status int_value(const YAML::Node& node, const std::string& field, int& out) {
  auto text = scalar(node, field);
  if (!text.ok()) return text.status();
  auto n = validate::parse_int(field, *text);
  if (!n.ok()) return n.status();
  out = *n;
  return Status::Ok();
}

Status target_value(const YAML::Node& node, const std::string& field, double& out) {
  auto text = scalar(node, field);
  if (!text.ok()) return text.status();
  try {
    std::size_t used = 0;
    out = std::stod(*text, &used);
    if (used == text->size()) return Status::Ok();
  } catch (const std::exception&) {
  }
  return Status::Invalid(field, "must be a number such as 60 or 0.5");
}

// autoscale: {enabled, min, max, targets, up_window_s, down_window_s, cooldown_s, max_step,
// stale_after_s, timezone, schedule, prewarm_s}. The block's presence turns autoscaling on unless it
// says `enabled: false`. targets: a map {cpu_percent: 60, ...} or a list of {metric, value}.
// schedule: a list of {days (list, or "mon,tue"), start_hour, end_hour, min, max}.
Status apply_autoscale(const YAML::Node& node, msg::AutoscalePolicy& policy) {
  const std::string f = "autoscale";
  if (!node.IsMap()) return Status::Invalid(f, "must be a map (min: 1, max: 10, targets: ...)");
  static const std::set<std::string> kKeys = {"enabled",       "min",           "max",        "targets",
                                              "up_window_s",   "down_window_s", "cooldown_s", "max_step",
                                              "stale_after_s", "timezone",      "schedule",   "prewarm_s"};
  policy.enabled = true;
  for (const auto& entry : node) {
    const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : std::string("?");
    const YAML::Node& value = entry.second;
    const std::string field = f + "." + key;
    if (!kKeys.count(key)) return unknown_key(f, key, kKeys);
    Status s;
    if (key == "enabled") {
      auto text = scalar(value, field);
      if (!text.ok()) return text.status();
      if (*text == "true" || *text == "yes" || *text == "on")
        policy.enabled = true;
      else if (*text == "false" || *text == "no" || *text == "off")
        policy.enabled = false;
      else
        return Status::Invalid(field, "must be true or false");
    } else if (key == "min")
      s = int_value(value, field, policy.min);
    else if (key == "max")
      s = int_value(value, field, policy.max);
    else if (key == "up_window_s")
      s = int_value(value, field, policy.up_window_s);
    else if (key == "down_window_s")
      s = int_value(value, field, policy.down_window_s);
    else if (key == "cooldown_s")
      s = int_value(value, field, policy.cooldown_s);
    else if (key == "max_step")
      s = int_value(value, field, policy.max_step);
    else if (key == "stale_after_s")
      s = int_value(value, field, policy.stale_after_s);
    else if (key == "prewarm_s")
      s = int_value(value, field, policy.prewarm_s);
    else if (key == "timezone") {
      auto text = scalar(value, field);
      if (!text.ok()) return text.status();
      policy.timezone = *text;
    } else if (key == "targets") {
      policy.targets.clear();
      if (value.IsMap()) {
        for (const auto& kv : value) {
          msg::AutoscaleTarget target;
          auto metric = scalar(kv.first, field);
          if (!metric.ok()) return metric.status();
          target.metric = *metric;
          if (Status v = target_value(kv.second, field + "." + *metric, target.value); !v.ok()) return v;
          policy.targets.push_back(target);
        }
      } else if (value.IsSequence()) {
        static const std::set<std::string> kTargetKeys = {"metric", "value"};
        for (std::size_t i = 0; i < value.size(); ++i) {
          const std::string t = field + "[" + std::to_string(i) + "]";
          if (!value[i].IsMap()) return Status::Invalid(t, "must be a map {metric: cpu_percent, value: 60}");
          msg::AutoscaleTarget target;
          for (const auto& kv : value[i]) {
            const std::string k = kv.first.IsScalar() ? kv.first.Scalar() : std::string("?");
            if (!kTargetKeys.count(k)) return unknown_key(t, k, kTargetKeys);
            if (k == "metric") {
              auto metric = scalar(kv.second, t + ".metric");
              if (!metric.ok()) return metric.status();
              target.metric = *metric;
            } else if (Status v = target_value(kv.second, t + ".value", target.value); !v.ok()) {
              return v;
            }
          }
          policy.targets.push_back(target);
        }
      } else if (!value.IsNull()) {
        return Status::Invalid(field, "must be a map {cpu_percent: 60, ...} or a list of {metric, value}");
      }
    } else if (key == "schedule") {
      policy.schedule.clear();
      if (!value.IsSequence() && !value.IsNull())
        return Status::Invalid(field, "must be a list of {days, start_hour, end_hour, min, max}");
      static const std::set<std::string> kPeriodKeys = {"days", "start_hour", "end_hour", "min", "max"};
      for (std::size_t i = 0; value.IsSequence() && i < value.size(); ++i) {
        const std::string p = field + "[" + std::to_string(i) + "]";
        if (!value[i].IsMap()) return Status::Invalid(p, "must be a map {days, start_hour, end_hour, min, max}");
        msg::AutoscalePeriod period;
        for (const auto& kv : value[i]) {
          const std::string k = kv.first.IsScalar() ? kv.first.Scalar() : std::string("?");
          if (!kPeriodKeys.count(k)) return unknown_key(p, k, kPeriodKeys);
          Status v;
          if (k == "days") {
            if (kv.second.IsSequence()) {
              for (std::size_t d = 0; d < kv.second.size(); ++d) {
                auto day = scalar(kv.second[d], p + ".days[" + std::to_string(d) + "]");
                if (!day.ok()) return day.status();
                period.days.push_back(*day);
              }
            } else if (kv.second.IsScalar()) {
              std::string word;
              for (char c : kv.second.Scalar() + ",") {
                if (c == ',' || c == ' ') {
                  if (!word.empty()) period.days.push_back(word);
                  word.clear();
                } else {
                  word += c;
                }
              }
            } else if (!kv.second.IsNull()) {
              return Status::Invalid(p + ".days", "must be a list of days (mon, tue, ...) or \"mon,tue\"");
            }
          } else if (k == "start_hour")
            v = int_value(kv.second, p + ".start_hour", period.start_hour);
          else if (k == "end_hour")
            v = int_value(kv.second, p + ".end_hour", period.end_hour);
          else if (k == "min")
            v = int_value(kv.second, p + ".min", period.min);
          else if (k == "max")
            v = int_value(kv.second, p + ".max", period.max);
          if (!v.ok()) return v;
        }
        policy.schedule.push_back(period);
      }
    }
    if (!s.ok()) return s;
  }
  return Status::Ok();
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
    if (key == "autoscale") {
      spec.autoscale = msg::AutoscalePolicy{};
      if (!value.IsNull())
        if (Status s = apply_autoscale(value, spec.autoscale); !s.ok()) return s;
    } else if (key == "command") {
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
      if (key == "name")
        spec.name = *text;
      else if (key == "image")
        set_image(spec, *text);
      else if (key == "tag")
        spec.tag = *text;
      else if (key == "protocol")
        spec.protocol = *text;
      else if (key == "proxy_protocol") {
        if (*text != "true" && *text != "false") return Status::Invalid("proxy_protocol", "must be true or false");
        spec.proxy_protocol = *text == "true";
      } else if (key == "context_path")
        spec.context_path = *text;
      else if (key == "algorithm")
        spec.algorithm = *text;
      else if (key == "health_path")
        spec.health_path = *text;
      else if (key == "check_rise" || key == "check_fall") {
        auto n = validate::parse_int(key, *text);
        if (!n.ok()) return n.status();
        (key == "check_rise" ? spec.check_rise : spec.check_fall) = *n;
      } else if (key == "max_surge" || key == "max_unavailable") {
        auto n = validate::parse_int(key, *text);
        if (!n.ok()) return n.status();
        (key == "max_surge" ? spec.max_surge : spec.max_unavailable) = *n;
      } else if (key == "check_inter_ms" || key == "drain_timeout_ms" || key == "rollout_timeout_ms") {
        auto n = parse_interval_ms(key, *text);
        if (!n.ok()) return n.status();
        (key == "check_inter_ms"     ? spec.check_inter_ms
         : key == "drain_timeout_ms" ? spec.drain_timeout_ms
                                     : spec.rollout_timeout_ms) = *n;
      } else if (key == "replicas") {
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
  // An optional flag: parsed by `parse` (which names `field` in its error) into `target`.
  const auto take = [](const std::optional<std::string>& flag, const char* field, auto parse, auto& target) {
    if (!flag) return Status::Ok();
    auto value = parse(field, *flag);
    if (!value.ok()) return value.status();
    target = *value;
    return Status::Ok();
  };
  const auto integer = [](const char* field, const std::string& text) { return validate::parse_int(field, text); };
  const auto interval = [](const char* field, const std::string& text) { return parse_interval_ms(field, text); };
  const auto cpu = [](const char* field, const std::string& text) { return validate::parse_cpu(field, text); };
  const auto memory = [](const char* field, const std::string& text) { return validate::parse_memory(field, text); };
  for (const Status& s :
       {take(flags.replicas, "replicas", integer, spec.replicas), take(flags.cpu, "cpu", cpu, spec.cpu),
        take(flags.memory, "memory", memory, spec.memory_bytes)})
    if (!s.ok()) return s;
  for (const auto& e : flags.env)
    if (Status s = apply_env(spec, "env", e); !s.ok()) return s;
  if (flags.context_path) spec.context_path = *flags.context_path;
  if (flags.algorithm) spec.algorithm = *flags.algorithm;
  if (flags.health_path) spec.health_path = *flags.health_path;
  if (flags.proxy_protocol) spec.proxy_protocol = true;
  for (const Status& s : {take(flags.check_rise, "check_rise", integer, spec.check_rise),
                          take(flags.check_fall, "check_fall", integer, spec.check_fall),
                          take(flags.check_inter, "check_inter_ms", interval, spec.check_inter_ms),
                          take(flags.drain_timeout, "drain_timeout_ms", interval, spec.drain_timeout_ms),
                          take(flags.max_surge, "max_surge", integer, spec.max_surge),
                          take(flags.max_unavailable, "max_unavailable", integer, spec.max_unavailable),
                          take(flags.rollout_timeout, "rollout_timeout_ms", interval, spec.rollout_timeout_ms)})
    if (!s.ok()) return s;
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
