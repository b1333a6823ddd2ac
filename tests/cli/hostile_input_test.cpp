// The hostile values of tests/support/hostile_values.h through `pier deploy` itself, as a person types
// them: as flags, and in an app file (-f). Every one is refused before anything is sent (exit code 2),
// and the error names the field.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cli/commands.h"
#include "tests/support/hostile_values.h"

namespace pier::cli {
namespace {

struct Ran {
  int code = 0;
  std::string err;
};

// Nothing listens on the bus given: a value wrongly accepted would fail by timing out, not hang.
Ran deploy(std::vector<std::string> args) {
  for (const char* a : {"--bus-pub", "tcp://127.0.0.1:9", "--bus-sub", "tcp://127.0.0.1:9", "--timeout", "1"})
    args.push_back(a);
  Ran ran;
  Io io{[](const std::string&) {}, [&](const std::string& line) { ran.err += line + "\n"; }};
  ran.code = run_deploy(args, io);
  return ran;
}

// The flags of a good deploy, but for `replaced` (which the test then gives).
std::vector<std::string> base_flags(const std::string& replaced) {
  std::vector<std::string> args;
  for (const auto& [flag, value] : std::vector<std::pair<std::string, std::string>>{
           {"--name", "web"}, {"--image", "pier/demo-app"}, {"--port", "8080:8000"}})
    if (flag != replaced) args.insert(args.end(), {flag, value});
  return args;
}

// A flag set to a hostile value, and the fields its refusal may name (--image may split a tag off;
// --command splits on blanks, so the value may land in any argument).
struct Flag {
  const char* flag;
  std::vector<std::string> fields;
  bool data = false;
  bool path = false;
};

// Whether `value` holds blanks that are control characters (what --command splits words on) and no
// other control character.
bool only_blank_controls(const std::string& value) {
  if (value.find_first_of("\t\n\r\v\f") == std::string::npos) return false;
  for (unsigned char c : value)
    if ((c < 0x20 || c == 0x7f) && c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\v' && c != '\f')
      return false;
  return true;
}

bool names_one_of(const std::string& err, const std::vector<std::string>& fields) {
  for (const auto& f : fields)
    if (err.rfind("error: " + f, 0) == 0) return true;
  return false;
}

TEST(HostileInputCli, EveryFlagRefusesEveryHostileValueNamingTheField) {
  const std::vector<Flag> flags = {
      {"--name", {"name"}},
      {"--image", {"image", "tag"}},
      {"--tag", {"tag"}},
      {"--command", {"command["}, true},
      {"--env", {"env"}},            // KEY=x: the value is the key
      {"--env=KEY", {"env"}, true},  // KEY=VALUE: the value is the value ("env.KEY")
      {"--protocol", {"protocol"}},
      {"--algorithm", {"algorithm"}},
      {"--context-path", {"context_path"}, false, true},
      {"--health-path", {"health_path"}, false, true},
      {"--port", {"port"}},
  };
  int refused = 0;
  for (const auto& flag : flags) {
    for (const auto& hostile : test::hostile_values()) {
      if (hostile.breaks_labels_only && std::string(flag.flag) != "--name") continue;
      if (flag.data && !hostile.breaks_data) continue;  // inert as data: accepted (tests/common/hostile_input_test)
      // --command splits its words on blanks (newlines and tabs too): there they separate arguments.
      if (std::string(flag.flag) == "--command" && only_blank_controls(hostile.value)) continue;
      // An empty value or one starting with '-' is taken by the option parser for a flag: refused there.
      std::vector<std::string> values = {hostile.value};
      if (flag.path && hostile.breaks_path) values.push_back("/" + hostile.value);
      for (const auto& value : values) {
        const std::string name(flag.flag);
        auto args = base_flags(name);
        if (name == "--env")
          args.push_back("--env=" + value + "=x");
        else if (name == "--env=KEY")
          args.push_back("--env=KEY=" + value);
        else if (name == "--command")
          args.insert(args.end(), {"--command", "pier-demo-app", "--command=" + value});
        else
          args.push_back(name + "=" + value);
        const Ran ran = deploy(args);
        EXPECT_EQ(ran.code, kExitBadInput) << flag.flag << " accepted " << hostile.what << ": " << ran.err;
        if (value.empty() || value.front() == '-') continue;
        EXPECT_TRUE(names_one_of(ran.err, flag.fields)) << flag.flag << ", " << hostile.what << ": " << ran.err;
        refused += ran.code == kExitBadInput;
      }
    }
  }
  EXPECT_GT(refused, 300);
}

// A YAML double-quoted scalar holding exactly `value` (YAML escapes every control character).
std::string yaml_quoted(const std::string& value) {
  static const char* hex = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : value) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

class HostileInputFile : public ::testing::Test {
 protected:
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("pier-hostile-" + std::to_string(::getpid()));
  void SetUp() override { std::filesystem::create_directories(dir); }
  void TearDown() override { std::filesystem::remove_all(dir); }

  Ran deploy_file(const std::string& yaml) {
    const auto path = dir / "app.yaml";
    std::ofstream(path, std::ios::binary) << yaml;
    return deploy({"-f", path.string()});
  }
};

TEST_F(HostileInputFile, EveryFieldOfTheAppFileRefusesEveryHostileValueNamingTheField) {
  struct Key {
    const char* field;
    std::function<std::string(const std::string&)> yaml;  // the app file with the value in place
    bool data = false;
    bool path = false;
  };
  const std::string base = "image: pier/demo-app\nports: [\"8080:8000\"]\n";
  const std::vector<Key> keys = {
      {"name", [&](const std::string& q) { return base + "name: " + q + "\n"; }},
      {"image", [&](const std::string& q) { return "name: web\nports: [\"8080:8000\"]\nimage: " + q + "\n"; }},
      {"tag", [&](const std::string& q) { return base + "name: web\ntag: " + q + "\n"; }},
      {"command[1]", [&](const std::string& q) { return base + "name: web\ncommand: [pier-demo-app, " + q + "]\n"; },
       true},
      // An explicit key ("? key"): an implicit one may not be longer than 1024 characters in YAML.
      {"env", [&](const std::string& q) { return base + "name: web\nenv:\n  ? " + q + "\n  : x\n"; }},
      {"env.KEY", [&](const std::string& q) { return base + "name: web\nenv: {KEY: " + q + "}\n"; }, true},
      {"protocol", [&](const std::string& q) { return base + "name: web\nprotocol: " + q + "\n"; }},
      {"algorithm", [&](const std::string& q) { return base + "name: web\nalgorithm: " + q + "\n"; }},
      {"context_path", [&](const std::string& q) { return base + "name: web\ncontext_path: " + q + "\n"; }, false,
       true},
      {"health_path", [&](const std::string& q) { return base + "name: web\nhealth_path: " + q + "\n"; }, false, true},
      {"autoscale.timezone",
       [&](const std::string& q) { return base + "name: web\nautoscale: {timezone: " + q + "}\n"; }},
  };
  int refused = 0;
  for (const auto& key : keys) {
    for (const auto& hostile : test::hostile_values()) {
      if (hostile.breaks_labels_only && std::string(key.field) != "name") continue;
      if (key.data && !hostile.breaks_data) continue;
      std::vector<std::string> values = {hostile.value};
      if (key.path && hostile.breaks_path) values.push_back("/" + hostile.value);
      for (const auto& value : values) {
        const Ran ran = deploy_file(key.yaml(yaml_quoted(value)));
        EXPECT_EQ(ran.code, kExitBadInput) << key.field << " accepted " << hostile.what << ": " << ran.err;
        // YAML is Unicode: bytes that are not UTF-8 are refused by the YAML reader, as the file.
        const bool utf8_only = std::string(hostile.what).find("UTF-8") == std::string::npos;
        if (utf8_only) {
          EXPECT_EQ(ran.err.rfind(std::string("error: ") + key.field, 0), 0u)
              << key.field << ", " << hostile.what << ": " << ran.err;
        }
        refused += ran.code == kExitBadInput;
      }
    }
  }
  EXPECT_GT(refused, 300);
}

}  // namespace
}  // namespace pier::cli
