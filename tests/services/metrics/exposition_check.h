// Checks text against the Prometheus text exposition format 0.0.4, line by line: the grammar of
// every line, one HELP and one TYPE per family before its samples, a family's samples together, no
// series twice. Returns the problems found, empty when the text is valid.
#pragma once

#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace pier::metrics::testing {

inline std::vector<std::string> exposition_problems(const std::string& text) {
  static const std::string kName = "[a-zA-Z_:][a-zA-Z0-9_:]*";
  static const std::string kLabel = "[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\\\n]|\\\\[\\\\\"n])*\"";
  static const std::string kValue = "(?:[+-]?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:[eE][+-]?[0-9]+)?|NaN|[+-]Inf)";
  static const std::regex help("# HELP (" + kName + ") (?:[^\\\\\\n]|\\\\[\\\\n])*");
  static const std::regex type("# TYPE (" + kName + ") (counter|gauge|histogram|summary|untyped)");
  static const std::regex sample("(" + kName + ")(\\{(?:" + kLabel + "(?:," + kLabel + ")*,?)?\\})? " + kValue +
                                 "(?: -?[0-9]+)?");
  std::vector<std::string> problems;
  if (!text.empty() && text.back() != '\n') problems.push_back("the text does not end with a line feed");
  std::set<std::string> helped, typed, finished, series;
  std::string current;  // the family whose samples are being read
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    const std::string where = "line " + std::to_string(n) + " '" + line + "': ";
    std::smatch m;
    if (std::regex_match(line, m, help)) {
      if (!helped.insert(m[1]).second) problems.push_back(where + "second HELP for " + m[1].str());
    } else if (std::regex_match(line, m, type)) {
      if (!typed.insert(m[1]).second) problems.push_back(where + "second TYPE for " + m[1].str());
      if (finished.count(m[1]) || current == m[1]) problems.push_back(where + "TYPE after samples of " + m[1].str());
      if (!current.empty() && current != m[1]) finished.insert(current);
      current = m[1];
    } else if (std::regex_match(line, m, sample)) {
      const std::string name = m[1];
      if (!typed.count(name)) problems.push_back(where + "sample before the TYPE of " + name);
      if (name != current) {
        if (finished.count(name)) problems.push_back(where + "samples of " + name + " are not together");
        if (!current.empty()) finished.insert(current);
        current = name;
      }
      if (!series.insert(name + m[2].str()).second) problems.push_back(where + "series twice");
    } else if (line.empty() || (line[0] == '#' && line.rfind("# HELP", 0) != 0 && line.rfind("# TYPE", 0) != 0)) {
      // Empty lines and other comments are allowed.
    } else {
      problems.push_back(where + "matches no line of the format");
    }
  }
  return problems;
}

}  // namespace pier::metrics::testing
