// `pier deploy -f FILE`: any text as the YAML app spec. Parsing never crashes; a spec it accepts has
// passed validation (build_spec validates), so validating it again must agree.
#include "cli/deploy_spec.h"
#include "common/validate.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pier;
  const std::string yaml(fuzz::text(data, size));
  auto spec = cli::build_spec(yaml, cli::DeployFlags{});
  if (!spec.ok()) {
    fuzz::require(!spec.status().message().empty(), "a refused spec has no reason");
    return 0;
  }
  fuzz::require(validate::app_spec(*spec).ok(), "build_spec accepted a spec that does not validate");
  return 0;
}
