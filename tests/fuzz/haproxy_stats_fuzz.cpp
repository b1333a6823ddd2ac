// HAProxy's `show stat` CSV as the stats socket answers it (or anything on that socket): parsing never
// crashes, and what it parses goes through the figures the agent computes from it.
#include "services/agent/haproxy_stats.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pier;
  auto rows = agent::parse_show_stat(fuzz::text(data, size));
  if (!rows.ok()) return 0;
  agent::servers_up(*rows);
  for (const auto& row : *rows) {
    agent::app_of_backend(row.proxy);
    agent::instance_of_server(row.server);
  }
  agent::RequestFigures figures;
  figures.update(*rows, {}, 0);
  figures.update(*rows, {}, 1000);
  return 0;
}
