// The one options layer: Boost.Program_options, with every long option also readable from the
// environment as PIER_<NAME> (dashes become underscores, upper case). The command line wins.
#pragma once

#include <boost/program_options.hpp>
#include <string>
#include <string_view>

#include "common/bus.h"

namespace pier::options {

namespace po = boost::program_options;

// Whether a process may use a plaintext bus on an address other than loopback.
enum class PlaintextBus { allowed, loopback_only };

// Adds --bus-pub and --bus-sub (defaults: the local pier-bus), --curve-secret FILE and --bus-public-key
// KEY|FILE writing into `endpoints` (the key files are read when the options are parsed: a missing,
// malformed or group-readable key is an option error naming the file and the rule). With
// `loopback_only`, also --insecure-bus: without it a bus endpoint off 127.0.0.0/8 needs keys.
void add_bus(po::options_description& desc, bus::Endpoints& endpoints, PlaintextBus plaintext = PlaintextBus::allowed);
// Whether a ZeroMQ endpoint stays on this machine: tcp:// on 127.0.0.0/8 or localhost, ipc://, inproc://.
bool local_endpoint(std::string_view endpoint);
// Adds --log-level writing into `level`.
void add_log_level(po::options_description& desc, std::string& level);

// Parses argv then PIER_* variables. --help prints `usage` and the options and exits 0; --version
// prints the version and exits 0; an unknown or malformed option prints the error and exits 2.
po::variables_map parse_or_exit(int argc, char** argv, const po::options_description& desc, std::string_view usage,
                                const po::positional_options_description* positional = nullptr);

// The environment variable that feeds an option: "bus-pub" -> "PIER_BUS_PUB".
std::string env_name(std::string_view option);

}  // namespace pier::options
