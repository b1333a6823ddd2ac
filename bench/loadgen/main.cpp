// pier-load: a bounded HTTP load generator for pier's tests and benchmarks (see loadgen.h).
#include <boost/program_options.hpp>
#include <iostream>

#include "bench/loadgen/loadgen.h"
#include "common/options.h"

namespace po = boost::program_options;

int main(int argc, char** argv) {
  pier::loadgen::Options o;
  std::string output = "text";
  bool fail_on_error = false;
  po::options_description desc("pier-load options");
  // clang-format off
  desc.add_options()
      ("host", po::value(&o.host)->default_value(o.host), "address to send to")
      ("port", po::value(&o.port)->required(), "port to send to")
      ("path", po::value(&o.paths)->multitoken()->default_value({"/"}, "/"), "request paths, taken in turn")
      ("keepalive", po::value(&o.keepalive_workers)->default_value(o.keepalive_workers),
       "workers that reuse one connection")
      ("fresh", po::value(&o.fresh_workers)->default_value(o.fresh_workers),
       "workers that open a connection per request")
      ("requests", po::value(&o.max_requests)->default_value(o.max_requests), "stop after this many requests")
      ("duration-ms", po::value(&o.max_duration_ms)->default_value(o.max_duration_ms), "stop after this long")
      ("timeout-ms", po::value(&o.timeout_ms)->default_value(o.timeout_ms), "per-request connect/read timeout")
      ("rate", po::value(&o.requests_per_second)->default_value(0), "requests per second per worker (0: unpaced)")
      ("output", po::value(&output)->default_value(output), "text or json")
      ("fail-on-error", po::bool_switch(&fail_on_error), "exit 1 when any request failed");
  // clang-format on
  pier::options::parse_or_exit(argc, argv, desc, "pier-load --port PORT [options]");
  if (output != "text" && output != "json") {
    std::cerr << "pier-load: output: must be text or json\n";
    return 2;
  }
  if (auto problem = pier::loadgen::check(o); !problem.empty()) {
    std::cerr << "pier-load: " << problem << "\n";
    return 2;
  }
  pier::loadgen::LoadGenerator generator(o);
  generator.start();
  const auto report = generator.wait();
  std::cout << (output == "json" ? report.to_json() + "\n" : report.to_text());
  return fail_on_error && report.failed() > 0 ? 1 : 0;
}
