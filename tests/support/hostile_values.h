// Values that have broken configuration generators, for the hostile-input tests (issue 14, point 7):
// ingress-nginx CVE-2021-25742 (snippets), CVE-2023-5043/5044 (annotation injection), CVE-2025-1974
// (configuration injection through an admission review), and the classic classes besides. Each must be
// refused, naming the field, wherever a field reaches haproxy.cfg, a command line, the Docker API or a
// file path. tests/fuzz/hostile/README.md says where each is tried.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/messages.h"

namespace pier::test {

struct HostileValue {
  const char* what;
  std::string value;
  // Breaks a field that is passed on as data (an argv element, an env value: no shell, no template):
  // a newline, NUL, another control character or bytes that are not UTF-8 (JSON to Docker cannot carry
  // them). Values without it are inert there and accepted as they are.
  bool breaks_data = false;
  // Still hostile after a leading '/' (the path fields' first character): "-rf" is not, "/../x" is.
  bool breaks_path = true;
  // Hostile only where a DNS label is wanted (name, host id): 64 characters are a fine tag or image.
  bool breaks_labels_only = false;
};

inline const std::vector<HostileValue>& hostile_values() {
  using namespace std::string_literals;
  static const std::vector<HostileValue> values = {
      {"newline", "web\nx", true},
      {"CRLF", "web\r\nx", true},
      {"a second server line (config injection)", "web\n    server evil 10.0.0.1:80 check", true},
      {"CVE-2021-25742 snippet", "x\n    lua-load /tmp/evil.lua", true},
      {"CVE-2023-5043 closing brace then directive", "x;}\n  server_tokens off;\n  location /x {", true},
      {"CVE-2025-1974 auth-url style", "http://x/#;\nload_module /tmp/evil.so;", true},
      {"closing brace", "a}b"},
      {"opening brace", "{a"},
      {"comment", "a#b"},
      {"comment first", "#a"},
      {"double quote", "a\"b"},
      {"single quote", "a'b"},
      {"backslash", "a\\b"},
      {"backslash-n, literally", "a\\nb"},
      {"HAProxy sample expression", "%[req.hdr(host)]"},
      {"HAProxy sample expression of the environment", "%[env(HOME)]"},
      {"HAProxy log-format variable", "%ci:%cp"},
      {"environment expansion", "${HOME}"},
      {"shell command substitution", "$(id)"},
      {"backticks", "`id`"},
      {"space", "a b"},
      {"leading space", " web"},
      {"tab", "a\tb", true},
      {"NUL", "a\0b"s, true},
      {"NUL alone", "\0"s, true},
      {"escape sequence", "a\x1b[31mb", true},
      {"DEL", "a\x7f", true},
      {"path traversal", "../../etc/passwd"},
      {"path traversal from the root", "/../../etc/passwd"},
      {"dot segment", "a/./b"},
      {"Cyrillic look-alike (wеb)", "w\xd0\xb5\x62"},
      {"fullwidth look-alike (ｗｅｂ)", "\xef\xbd\x97\xef\xbd\x85\xef\xbd\x82"},
      {"zero-width space", "web\xe2\x80\x8b"},
      {"right-to-left override",
       "web\xe2\x80\xae"
       "gpj"},
      {"not UTF-8", "web\xff\xfe", true},
      {"overlong UTF-8 for '/'",
       "a\xc0\xaf"
       "b",
       true},
      {"overlong: 64 characters (a DNS label has at most 63)", std::string(64, 'a'), false, false, true},
      {"overlong: 300 characters", std::string(300, 'a'), false, true},
      {"overlong: 70000 characters", std::string(70000, 'a'), true, true},
      {"option injection", "--privileged", false, false},
      {"leading dash", "-rf", false, false},
      {"semicolon (nginx's statement end; inert in HAProxy's config and RFC 3986 path syntax)", "a;b", false, false},
      {"ampersand and pipe", "a&&b|c"},
      {"angle brackets", "<script>"},
      {"empty", "", false, false},
  };
  return values;
}

// A field of an app spec that reaches haproxy.cfg, a command line, the Docker API or a file path.
struct HostileField {
  const char* name;  // as a refusal names it
  std::function<void(msg::AppSpec&, const std::string&)> set;
  bool data = false;  // passed on as data (argv element, env value)
  bool path = false;  // a URL path: tried as given and after a leading '/'
};

inline const std::vector<HostileField>& app_spec_fields() {
  static const std::vector<HostileField> fields = {
      {"name", [](msg::AppSpec& s, const std::string& v) { s.name = v; }},
      {"image", [](msg::AppSpec& s, const std::string& v) { s.image = v; }},
      {"tag", [](msg::AppSpec& s, const std::string& v) { s.tag = v; }},
      {"command[0]", [](msg::AppSpec& s, const std::string& v) { s.command = {v}; }, true},
      {"command[1]",
       [](msg::AppSpec& s, const std::string& v) {
         s.command = {"pier-demo-app", v};
       },
       true},
      {"env",
       [](msg::AppSpec& s, const std::string& v) {
         s.env = {{v, "x"}};
       }},
      {"env.KEY",
       [](msg::AppSpec& s, const std::string& v) {
         s.env = {{"KEY", v}};
       },
       true},
      {"protocol", [](msg::AppSpec& s, const std::string& v) { s.protocol = v; }},
      {"algorithm", [](msg::AppSpec& s, const std::string& v) { s.algorithm = v; }},
      {"context_path", [](msg::AppSpec& s, const std::string& v) { s.context_path = v; }, false, true},
      {"health_path", [](msg::AppSpec& s, const std::string& v) { s.health_path = v; }, false, true},
      {"autoscale.timezone", [](msg::AppSpec& s, const std::string& v) { s.autoscale.timezone = v; }},
  };
  return fields;
}

// Whether `field` must refuse `value` (one of hostile.value, "/" + hostile.value): fields of data refuse
// only what breaks data, and an empty program (command[0]).
inline bool must_refuse(const HostileField& field, const HostileValue& hostile, const std::string& value) {
  if (!field.data) return true;
  return hostile.breaks_data || (std::string(field.name) == "command[0]" && value.empty());
}

// The values `field` is tried with for `hostile`, none when it does not apply to the field.
inline std::vector<std::string> tries(const HostileField& field, const HostileValue& hostile) {
  if (hostile.breaks_labels_only && std::string(field.name) != "name") return {};
  std::vector<std::string> out = {hostile.value};
  if (field.path && hostile.breaks_path) out.push_back("/" + hostile.value);
  return out;
}

}  // namespace pier::test
