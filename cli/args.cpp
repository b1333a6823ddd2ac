#include "cli/args.h"

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "common/options.h"

namespace pier::cli {
namespace {

// "--name value" -> "--name=value" for every option that takes a value, so that Boost does not read
// a value starting with '-' as another option.
std::vector<std::string> join_values(const std::vector<std::string>& args, const po::options_description& desc) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& word = args[i];
    if (word.size() > 2 && word.rfind("--", 0) == 0 && word.find('=') == std::string::npos && i + 1 < args.size()) {
      const auto* option = desc.find_nothrow(word.substr(2), false);
      if (option != nullptr && option->semantic()->max_tokens() > 0) {
        out.push_back(word + "=" + args[i + 1]);
        ++i;
        continue;
      }
    }
    out.push_back(word);
  }
  return out;
}

}  // namespace

Result<ParsedArgs> parse_args(const std::vector<std::string>& args, const po::options_description& desc,
                              const po::positional_options_description* positional,
                              const std::vector<std::string>& env_options) {
  po::options_description all = desc;
  all.add_options()("help,h", "show this help");
  ParsedArgs parsed;
  try {
    po::command_line_parser parser(join_values(args, all));
    parser.options(all);
    if (positional != nullptr) parser.positional(*positional);
    po::store(parser.run(), parsed.values);
    for (const auto& name : env_options) {
      if (parsed.values.count(name) && !parsed.values[name].defaulted()) continue;
      const char* value = std::getenv(options::env_name(name).c_str());
      if (value == nullptr) continue;
      po::store(po::command_line_parser(std::vector<std::string>{"--" + name + "=" + value}).options(all).run(),
                parsed.values);
    }
    parsed.help = parsed.values.count("help") > 0;
    if (!parsed.help) po::notify(parsed.values);
  } catch (const po::error& e) {
    return Status::Error(e.what());
  }
  return parsed;
}

std::vector<std::string> split_words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  std::string word;
  while (in >> word) words.push_back(word);
  return words;
}

std::string help_text(const std::string& usage, const po::options_description& desc) {
  std::ostringstream out;
  out << usage << "\n\n" << desc << "  -h [ --help ]                         show this help\n";
  return out.str();
}

}  // namespace pier::cli
