// Command-line parsing for the pier subcommands: Boost.Program_options through one function that returns
// errors as values (so that tests drive it) instead of exiting.
#pragma once

#include <boost/program_options.hpp>
#include <string>
#include <vector>

#include "common/status.h"

namespace pier::cli {

namespace po = boost::program_options;

struct ParsedArgs {
  po::variables_map values;
  bool help = false;
};

// Parses `args` (the words after the subcommand) against `desc`. "--help"/"-h" sets help. An option
// listed in `env_options` that is not on the command line is read from PIER_<OPTION> (common/options.h
// naming). An option's value may start with '-' ("--replicas -1" reaches the validator as "-1").
Result<ParsedArgs> parse_args(const std::vector<std::string>& args, const po::options_description& desc,
                              const po::positional_options_description* positional = nullptr,
                              const std::vector<std::string>& env_options = {});

// What --help prints: the usage text, the options, and the --help line parse_args adds itself.
std::string help_text(const std::string& usage, const po::options_description& desc);

// Words separated by blanks: "pier-demo-app --mode tcp" -> {"pier-demo-app", "--mode", "tcp"}.
std::vector<std::string> split_words(const std::string& text);

}  // namespace pier::cli
