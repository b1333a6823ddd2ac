#include "services/agent/docker_firewall.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "common/files.h"
#include "common/net.h"
#include "common/process.h"

namespace pier::agent {
namespace {

constexpr const char* kFilter = "filter";
constexpr const char* kNat = "nat";
constexpr const char* kUserChain = "DOCKER-USER";
constexpr const char* kPostrouting = "POSTROUTING";

// One `-A` line of `iptables -S`, split as a shell would (iptables quotes a comment with spaces in
// double quotes and escapes quotes inside it).
std::vector<std::string> split_words(const std::string& line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false, quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '\\' && i + 1 < line.size()) {
        word += line[++i];
      } else if (c == '"') {
        quoted = false;
      } else {
        word += c;
      }
    } else if (c == '"') {
      quoted = in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\r') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

struct Table {
  std::vector<std::string> chains;                                      // from -P and -N lines
  std::vector<std::pair<std::string, std::vector<std::string>>> rules;  // chain, args after "-A chain"
  bool has_chain(const std::string& name) const {
    return std::find(chains.begin(), chains.end(), name) != chains.end();
  }
  std::vector<std::vector<std::string>> chain_rules(const std::string& name) const {
    std::vector<std::vector<std::string>> out;
    for (const auto& [chain, args] : rules)
      if (chain == name) out.push_back(args);
    return out;
  }
};

Table parse_table(const std::string& text) {
  Table table;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto words = split_words(line);
    if (words.size() < 2) continue;
    if (words[0] == "-P" || words[0] == "-N") {
      table.chains.push_back(words[1]);
    } else if (words[0] == "-A") {
      std::string chain = words[1];
      words.erase(words.begin(), words.begin() + 2);
      table.rules.emplace_back(std::move(chain), std::move(words));
    }
  }
  return table;
}

bool is_piers(const std::vector<std::string>& args) {
  for (std::size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == "--comment" && args[i + 1] == kFirewallComment) return true;
  return false;
}

// The value after `option` (e.g. "-d"), when not negated.
std::string option_value(const std::vector<std::string>& args, const std::string& option) {
  for (std::size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == option && (i == 0 || args[i - 1] != "!")) return args[i + 1];
  return {};
}

// iptables prints a rule's words in an order of its own (addresses, then matches, then the target);
// the same words in another order are the same rule for pier's simple rules.
bool same_rule(std::vector<std::string> a, std::vector<std::string> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return a == b;
}

// Where pier's rules may stand in a chain: before dockerd's own terminating `-j RETURN` in DOCKER-USER
// (rules after it are never reached); before every rule that is not pier's in POSTROUTING (dockerd
// inserts its MASQUERADE at the top). Returns the 0-based index of the first rule they must precede,
// rules.size() when none.
std::size_t placement_limit(const std::string& chain, const std::vector<std::vector<std::string>>& rules) {
  for (std::size_t i = 0; i < rules.size(); ++i) {
    if (chain == kUserChain && rules[i] == std::vector<std::string>{"-j", "RETURN"}) return i;
    if (chain == kPostrouting && !is_piers(rules[i])) return i;
  }
  return rules.size();
}

// The changes for one chain: `wanted` are this host's rules, `mine` tells this host's pier rules apart
// from another pier agent's sharing the namespace (another host id on the same daemon), which are left
// alone.
void plan_chain(const std::string& table, const std::string& chain, std::vector<std::vector<std::string>> rules,
                const std::vector<std::vector<std::string>>& wanted,
                const std::function<bool(const std::vector<std::string>&)>& mine, std::vector<FirewallChange>& out) {
  const std::size_t limit = placement_limit(chain, rules);
  std::vector<bool> missing(wanted.size(), false);
  std::vector<std::vector<std::string>> deletes;
  for (std::size_t w = 0; w < wanted.size(); ++w) {
    std::vector<std::size_t> copies;
    for (std::size_t i = 0; i < rules.size(); ++i)
      if (is_piers(rules[i]) && same_rule(rules[i], wanted[w])) copies.push_back(i);
    if (copies.size() == 1 && copies[0] < limit) continue;
    // Twice, or out of place: `-D` removes the first copy of a spec, so every copy goes and one comes back.
    for (std::size_t i : copies) deletes.push_back(rules[i]);
    missing[w] = true;
  }
  for (const auto& rule : rules) {
    if (!is_piers(rule) || !mine(rule)) continue;
    const bool is_wanted = std::any_of(wanted.begin(), wanted.end(), [&](const auto& w) { return same_rule(rule, w); });
    if (!is_wanted) deletes.push_back(rule);
  }
  for (const auto& rule : deletes) {
    out.push_back({FirewallChange::Kind::kDelete, {table, chain, rule}, 0});
    auto at = std::find(rules.begin(), rules.end(), rule);
    if (at != rules.end()) rules.erase(at);
  }
  for (std::size_t w = 0; w < wanted.size(); ++w) {
    if (!missing[w]) continue;
    std::size_t at = placement_limit(chain, rules);
    // In POSTROUTING the limit is the first foreign rule: after pier's rules already at the top.
    if (at == rules.size()) {
      out.push_back({FirewallChange::Kind::kAppend, {table, chain, wanted[w]}, 0});
    } else {
      out.push_back({FirewallChange::Kind::kInsert, {table, chain, wanted[w]}, static_cast<int>(at) + 1});
    }
    rules.insert(rules.begin() + static_cast<std::ptrdiff_t>(at), wanted[w]);
  }
}

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out += ' ';
    out += w.find(' ') == std::string::npos && !w.empty() ? w : "\"" + w + "\"";
  }
  return out;
}

}  // namespace

std::string IptablesRule::text() const { return "-t " + table + " -A " + chain + " " + join(args); }

std::string FirewallChange::command() const {
  switch (kind) {
    case Kind::kInsert:
      return "iptables -t " + rule.table + " -I " + rule.chain + " " + std::to_string(position) + " " + join(rule.args);
    case Kind::kAppend:
      return "iptables -t " + rule.table + " -A " + rule.chain + " " + join(rule.args);
    case Kind::kDelete:
      return "iptables -t " + rule.table + " -D " + rule.chain + " " + join(rule.args);
  }
  return {};
}

Result<std::vector<IptablesRule>> wanted_firewall_rules(const FirewallSpec& spec) {
  auto subnet = net::parse_cidr(spec.host_subnet);
  if (!subnet.ok()) return Status::Invalid("host_subnet", subnet.status().message());
  if (spec.platform_networks.empty()) return Status::Invalid("platform_networks", "must name at least one CIDR");
  const std::string host = net::format_cidr(*subnet);
  std::vector<IptablesRule> filter, nat;
  for (const auto& text : spec.platform_networks) {
    auto network = net::parse_cidr(text);
    if (!network.ok()) return Status::Invalid("platform_networks", text + ": " + network.status().message());
    const std::string platform = net::format_cidr(*network);
    // Named twice, it would be planned twice and found twice: one rule per network.
    if (std::any_of(filter.begin(), filter.end(), [&](const auto& rule) { return rule.args[1] == platform; })) continue;
    // The words in the order `iptables -S` prints them back.
    filter.push_back({kFilter,
                      kUserChain,
                      {"-s", platform, "-d", host, "-m", "comment", "--comment", kFirewallComment, "-j", "ACCEPT"}});
    nat.push_back({kNat,
                   kPostrouting,
                   {"-s", host, "-d", platform, "-m", "comment", "--comment", kFirewallComment, "-j", "RETURN"}});
  }
  filter.insert(filter.end(), nat.begin(), nat.end());
  return filter;
}

Result<FirewallPlan> plan_docker_firewall(const FirewallSpec& spec, const std::string& filter_rules,
                                          const std::string& nat_rules) {
  auto wanted = wanted_firewall_rules(spec);
  if (!wanted.ok()) return wanted.status();
  FirewallPlan plan;
  const Table filter = parse_table(filter_rules);
  plan.docker_iptables = filter.has_chain(kUserChain);
  if (!plan.docker_iptables) return plan;
  const Table nat = parse_table(nat_rules);
  const std::string host = net::format_cidr(*net::parse_cidr(spec.host_subnet));
  std::vector<std::vector<std::string>> wanted_filter, wanted_nat;
  for (const auto& rule : *wanted) (rule.table == kFilter ? wanted_filter : wanted_nat).push_back(rule.args);
  plan_chain(
      kFilter, kUserChain, filter.chain_rules(kUserChain), wanted_filter,
      [&](const auto& args) { return option_value(args, "-d") == host; }, plan.changes);
  plan_chain(
      kNat, kPostrouting, nat.chain_rules(kPostrouting), wanted_nat,
      [&](const auto& args) { return option_value(args, "-s") == host; }, plan.changes);
  return plan;
}

IptablesProgram::IptablesProgram(std::vector<std::string> command, int timeout_ms)
    : command_(std::move(command)), timeout_ms_(timeout_ms) {}

Result<std::string> IptablesProgram::run(const std::vector<std::string>& args) const {
  namespace fs = std::filesystem;
  std::string pattern = (fs::temp_directory_path() / "pier-iptables-XXXXXX").string();
  const int fd = ::mkstemp(pattern.data());
  if (fd < 0) return Status::Error("cannot make a temporary file for iptables' output in " + pattern);
  ::close(fd);
  const std::string out = pattern, err = pattern + ".err";
  process::SpawnOptions spawn;
  spawn.argv = command_;
  spawn.argv.insert(spawn.argv.end(), {"-w", "5"});  // waits up to 5 s for the xtables lock
  spawn.argv.insert(spawn.argv.end(), args.begin(), args.end());
  spawn.output_path = out;
  spawn.error_path = err;
  const std::string what = join(spawn.argv);
  auto pid = process::spawn(spawn);
  std::optional<int> code;
  if (pid.ok()) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms_);
    while (!(code = process::try_wait(*pid)) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    if (!code) process::stop(*pid, 500);
  }
  const std::string output = files::read_text(out), errors = files::read_text(err);
  std::error_code ec;
  fs::remove(out, ec);
  fs::remove(err, ec);
  if (!pid.ok()) return pid.status();
  if (!code) return Status::Error(what + ": did not finish within " + std::to_string(timeout_ms_) + " ms");
  if (*code != 0) {
    std::string reason = errors.empty() ? output : errors;
    while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' ')) reason.pop_back();
    return Status::Error(what + ": exit code " + std::to_string(*code) + ": " + reason);
  }
  return output;
}

Result<std::string> IptablesProgram::list(const std::string& table) { return run({"-t", table, "-S"}); }

Status IptablesProgram::append(const std::string& table, const std::string& chain,
                               const std::vector<std::string>& rule) {
  std::vector<std::string> args = {"-t", table, "-A", chain};
  args.insert(args.end(), rule.begin(), rule.end());
  auto done = run(args);
  return done.ok() ? Status::Ok() : done.status();
}

Status IptablesProgram::insert(const std::string& table, const std::string& chain, int position,
                               const std::vector<std::string>& rule) {
  std::vector<std::string> args = {"-t", table, "-I", chain, std::to_string(position)};
  args.insert(args.end(), rule.begin(), rule.end());
  auto done = run(args);
  return done.ok() ? Status::Ok() : done.status();
}

Status IptablesProgram::remove(const std::string& table, const std::string& chain,
                               const std::vector<std::string>& rule) {
  std::vector<std::string> args = {"-t", table, "-D", chain};
  args.insert(args.end(), rule.begin(), rule.end());
  auto done = run(args);
  return done.ok() ? Status::Ok() : done.status();
}

Result<FirewallPlan> DockerFirewall::apply(const FirewallSpec& spec) {
  auto filter = iptables_.list(kFilter);
  if (!filter.ok()) return filter.status();
  auto nat = iptables_.list(kNat);
  if (!nat.ok()) return nat.status();
  auto plan = plan_docker_firewall(spec, *filter, *nat);
  if (!plan.ok()) return plan.status();
  if (!plan->docker_iptables) {
    if (!said_no_docker_iptables_)
      spdlog::info(
          "no DOCKER-USER chain in iptables: dockerd runs with --iptables=false, so pier adds no rules "
          "for subnet {} either",
          spec.host_subnet);
    said_no_docker_iptables_ = true;
    return plan;
  }
  said_no_docker_iptables_ = false;
  for (const auto& change : plan->changes) {
    const auto& rule = change.rule;
    Status done;
    switch (change.kind) {
      case FirewallChange::Kind::kAppend:
        done = iptables_.append(rule.table, rule.chain, rule.args);
        break;
      case FirewallChange::Kind::kInsert:
        done = iptables_.insert(rule.table, rule.chain, change.position, rule.args);
        break;
      case FirewallChange::Kind::kDelete:
        done = iptables_.remove(rule.table, rule.chain, rule.args);
        break;
    }
    if (!done.ok()) return Status::Error("docker firewall for subnet " + spec.host_subnet + ": " + done.message());
    spdlog::info("docker firewall for subnet {}: {}", spec.host_subnet, change.command());
  }
  return plan;
}

}  // namespace pier::agent
