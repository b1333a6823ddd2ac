// validate:: on hostile values. The input is tried twice: as a msgpack AppSpec through
// validate::app_spec, and as one string through each field check and parser. Whatever app_spec accepts
// must be safe to put into haproxy.cfg and onto a command line: that property is checked here.
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
    if (c <= 0x20 || c >= 0x7f || std::string_view("#\"'\\{}[]<>`").find(static_cast<char>(c)) != std::string_view::npos)
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
  if (!status.ok()) fuzz::require(!status.message().empty(), "a refusal says nothing");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = fuzz::text(data, size);
  if (auto spec = codec::decode<msg::AppSpec>(input); spec.ok()) {
    const Status status = validate::app_spec(*spec);
    if (status.ok())
      check_accepted(*spec);
    else
      fuzz::require(!status.field().empty(), "an app spec refusal names no field");
  }
  if (size > 4096) return 0;  // the string checks bound their input themselves; long ones only cost time
  check_refusal(validate::dns_label("f", input));
  if (validate::dns_label("f", input).ok()) fuzz::require(is_config_word(input), "a DNS label is not a plain word");
  check_refusal(validate::image("f", input));
  check_refusal(validate::tag("f", input));
  check_refusal(validate::context_path("f", input));
  check_refusal(validate::health_path("f", input));
  check_refusal(validate::env_key("f", input));
  check_refusal(validate::env_value("f", input));
  check_refusal(validate::unicast_ipv4("f", input));
  check_refusal(validate::mac_address("f", input));
  check_refusal(validate::parse_memory("f", input).status());
  check_refusal(validate::parse_cpu("f", input).status());
  check_refusal(validate::parse_int("f", input).status());
  check_refusal(validate::parse_port_mapping("f", input).status());
  check_refusal(validate::parse_env("f", input).status());
  return 0;
}
