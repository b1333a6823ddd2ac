// HAProxy's request log lines as they arrive on the agent's log socket (one datagram each), then the
// figures made of them; and the config rewrite that turns the log on, on any config text.
#include <set>

#include "services/agent/haproxy_stats.h"
#include "services/agent/request_log.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pier;
  const std::string_view input = fuzz::text(data, size);
  std::vector<agent::LoggedRequest> logged;
  std::vector<double> latencies;
  std::size_t start = 0;
  while (start <= input.size()) {
    std::size_t end = input.find('\n', start);
    if (end == std::string_view::npos) end = input.size();
    if (auto line = agent::parse_request_log_line(input.substr(start, end - start))) {
      logged.push_back(*line);
      latencies.push_back(static_cast<double>(line->active_ms));
    }
    start = end + 1;
  }
  agent::percentile(latencies, 95);
  agent::RequestFigures figures;
  figures.update({}, logged, 0);
  figures.update({}, logged, 1000);
  const std::string config(input);
  agent::with_request_log(config, "/run/pier/log.sock", {"fe_80", "fe_8080"});
  return 0;
}
