// The Docker Engine API's answers as they come off its socket (or whatever answers there): every reader
// of services/agent/docker_json.h on any body. None may throw.
#include "services/agent/docker_json.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pier;
  const std::string_view body = fuzz::text(data, size);
  agent::read_container_list(body);
  agent::read_inspect(nlohmann::json::parse(body, nullptr, false));
  agent::read_created_id(body);
  agent::read_network(body);
  agent::read_error_message(body);
  agent::read_pull_error(body);
  return 0;
}
