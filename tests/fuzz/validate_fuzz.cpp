// validate:: on hostile values: a msgpack AppSpec through validate::app_spec, or one string through one
// field check or parser. Whatever app_spec accepts
// must be safe to put into haproxy.cfg and onto a command line: that property is checked here.
#include <iterator>
#include <string>

#include "common/codec.h"
#include "common/validate.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using namespace pier;

// A value that lands in haproxy.cfg as a word: printable ASCII, none of HAProxy's quoting, comment,
// escaping or sample-expression characters.
bool is_config_word(std::string_view value) {
  for (unsigned char c : value)
    if (c <= 0x20 || c >= 0x7f ||
        std::string_view("#\"'\\{}[]<>`").find(static_cast<char>(c)) != std::string_view::npos)
      return false;
  return true;
}

bool has_byte(std::string_view value, std::string_view bytes) {
  return value.find_first_of(bytes) != std::string_view::npos;
}

void check_accepted(const msg::AppSpec& spec) {
  fuzz::require(is_config_word(spec.name) && is_config_word(spec.image) && is_config_word(spec.tag),
                "an accepted name, image or tag is not a plain word");
  fuzz::require(is_config_word(spec.context_path) && is_config_word(spec.health_path),
                "an accepted path is not a plain word");
  fuzz::require(spec.protocol == "http" || spec.protocol == "tcp", "an accepted protocol is unknown");
  for (const auto& arg : spec.command)
    fuzz::require(!has_byte(arg, std::string_view("\0\n\r", 3)), "an accepted command argument has a newline or NUL");
  for (const auto& [key, value] : spec.env) {
    fuzz::require(is_config_word(key) && !has_byte(key, "=$"), "an accepted env key is not a plain word");
    fuzz::require(!has_byte(value, std::string_view("\0\n\r", 3)), "an accepted env value has a newline or NUL");
  }
  for (const auto& port : spec.ports)
    fuzz::require(port.external >= 1 && port.external <= 65535 && port.internal >= 1 && port.internal <= 65535,
                  "an accepted port is out of range");
}

void check_refusal(const Status& status) {
  if (!status.ok())
    fuzz::require(!status.field().empty() && !status.rule().empty(), "a refusal names no field or rule");
}

using Check = Status (*)(std::string_view);

// The first byte of an input picks the check, the rest is the value (0: a msgpack AppSpec).
constexpr Check kChecks[] = {
    [](std::string_view v) { return validate::dns_label("f", v); },
    [](std::string_view v) { return validate::image("f", v); },
    [](std::string_view v) { return validate::tag("f", v); },
    [](std::string_view v) { return validate::context_path("f", v); },
    [](std::string_view v) { return validate::health_path("f", v); },
    [](std::string_view v) { return validate::env_key("f", v); },
    [](std::string_view v) { return validate::env_value("f", v); },
    [](std::string_view v) { return validate::unicast_ipv4("f", v); },
    [](std::string_view v) { return validate::mac_address("f", v); },
    [](std::string_view v) { return validate::time_zone("f", v); },
    [](std::string_view v) { return validate::parse_memory("f", v).status(); },
    [](std::string_view v) { return validate::parse_cpu("f", v).status(); },
    [](std::string_view v) { return validate::parse_int("f", v).status(); },
    [](std::string_view v) { return validate::parse_port_mapping("f", v).status(); },
    [](std::string_view v) { return validate::parse_env("f", v).status(); },
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view input = fuzz::text(data + 1, size - 1);
  const std::size_t pick = data[0] % (std::size(kChecks) + 1);
  if (pick == 0) {
    auto spec = codec::decode<msg::AppSpec>(input);
    if (!spec.ok()) return 0;
    const Status status = validate::app_spec(*spec);
    if (status.ok())
      check_accepted(*spec);
    else
      fuzz::require(!status.field().empty(), "an app spec refusal names no field");
    return 0;
  }
  const Status status = kChecks[pick - 1](input);
  check_refusal(status);
  if (pick == 1 && status.ok()) fuzz::require(is_config_word(input), "a DNS label is not a plain word");
  return 0;
}
