#include "common/options.h"

#include <cstdlib>
#include <iostream>

#include "common/version.h"

namespace pier::options {

void add_log_level(po::options_description& desc, std::string& level) {
  desc.add_options()("log-level", po::value(&level)->default_value("info"), "trace | debug | info | warn | error");
}

std::string env_name(std::string_view option) {
  std::string name = "PIER_";
  for (char c : option) name.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return name;
}

po::variables_map parse_or_exit(int argc, char** argv, const po::options_description& desc, std::string_view usage,
                                const po::positional_options_description* positional) {
  po::options_description all = desc;
  // clang-format off
  all.add_options()
      ("help,h", "show this help")
      ("version", "show the version");
  // clang-format on
  po::variables_map vm;
  try {
    po::command_line_parser parser(argc, argv);
    parser.options(all);
    if (positional != nullptr) parser.positional(*positional);
    po::store(parser.run(), vm);
    po::store(po::parse_environment(all,
                                    [&all](const std::string& variable) -> std::string {
                                      if (variable.rfind("PIER_", 0) != 0) return {};
                                      for (const auto& opt : all.options()) {
                                        if (env_name(opt->long_name()) == variable && opt->long_name() != "help" &&
                                            opt->long_name() != "version")
                                          return opt->long_name();
                                      }
                                      return {};
                                    }),
              vm);
    if (vm.count("help")) {
      std::cout << usage << "\n\n" << all << "\nEvery option can also be set as PIER_<OPTION> in the environment.\n";
      std::exit(0);
    }
    if (vm.count("version")) {
      std::cout << kVersion << "\n";
      std::exit(0);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "error: " << e.what() << "\n(see --help)\n";
    std::exit(2);
  }
  return vm;
}

}  // namespace pier::options
