#include "cli/keys.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/args.h"
#include "cli/dev.h"
#include "common/files.h"
#include "common/options.h"

namespace pier::cli {
namespace fs = std::filesystem;
namespace {

// Replaces `path` as a whole (a reader never sees half a list), mode 0600.
Status write_replacing(const std::string& path, const std::string& text) {
  return files::write_atomically(path, text, 0600);
}

Result<keys::Allowlist> read_allowlist(const std::string& path, std::string& text) {
  text = fs::exists(path) ? files::read_text(path) : std::string();
  auto list = keys::Allowlist::parse(text);
  if (!list.ok()) return Status::Invalid(path + " " + list.status().field(), list.status().rule());
  return list;
}

// The keys folder when none is given: PIER_KEYS_DIR, else pier dev's (default state dir)/keys.
std::string default_keys_dir() {
  if (const char* dir = std::getenv("PIER_KEYS_DIR"); dir != nullptr && *dir != '\0') return dir;
  return default_state_dir(::geteuid() == 0, std::getenv("XDG_STATE_HOME"), std::getenv("HOME")) + "/keys";
}

bool is_pier_bus(pid_t pid) {
  std::error_code ec;
  const auto exe = fs::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec);
  return !ec && exe.filename() == "pier-bus";
}

}  // namespace

Status make_key(const std::string& dir, const std::string& name, std::string_view what) {
  if (Status s = keys::check_name("name", name); !s.ok()) return s;
  std::error_code ec;
  if (!fs::exists(dir)) {
    fs::create_directories(dir, ec);
    if (ec) return Status::Invalid(dir, "cannot create: " + ec.message());
    ::chmod(dir.c_str(), 0700);
  }
  auto pair = keys::generate();
  if (!pair.ok()) return pair.status();
  return keys::write_pair(dir, name, what, *pair);
}

Status allow_key(const std::string& path, const keys::AllowedKey& key) {
  std::string text;
  auto list = read_allowlist(path, text);
  if (!list.ok()) return list.status();
  if (list->find_name(key.name) != nullptr) return Status::Invalid("name", key.name + " is in " + path + " already");
  if (list->find_key(key.public_key) != nullptr) return Status::Invalid("key", "is in " + path + " already");
  if (!text.empty() && text.back() != '\n') text += "\n";
  return write_replacing(path, text + keys::Allowlist::line(key) + "\n");
}

Status revoke_key(const std::string& path, const std::string& name) {
  std::string text;
  auto list = read_allowlist(path, text);
  if (!list.ok()) return list.status();
  if (list->find_name(name) == nullptr) return Status::Invalid("name", name + " is not in " + path);
  std::istringstream in(text);
  std::string kept;
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string key, who;
    words >> key >> who;
    if (!key.empty() && key[0] != '#' && who == name) continue;
    kept += line + "\n";
  }
  return write_replacing(path, kept);
}

std::string join_command(const std::string& name, const bus::Endpoints& endpoints, const std::string& bus_public_key,
                         const std::string& secret_key) {
  // Z85 has no quote nor backslash: single quotes keep the secret as it is.
  const std::string file = "/etc/pier/" + name + ".key";
  return "mkdir -p /etc/pier && (umask 077 && printf '%s\\n' '" + secret_key + "' > " + file +
         ") && pier-agent --host-id " + name + " --address <this host's address> --bus-pub " + endpoints.pub +
         " --bus-sub " + endpoints.sub + " --bus-public-key '" + bus_public_key + "' --curve-secret " + file;
}

Status ensure_dev_keys(const std::string& dir, const std::vector<std::pair<std::string, keys::Role>>& clients) {
  if (!fs::exists(dir + "/bus.key"))
    if (Status s = make_key(dir, "bus", "bus"); !s.ok()) return s;
  const std::string allow = dir + "/allow";
  for (const auto& [name, role] : clients) {
    if (!fs::exists(dir + "/" + name + ".key"))
      if (Status s = make_key(dir, name, keys::role_name(role)); !s.ok()) return s;
    std::string text;
    auto list = read_allowlist(allow, text);
    if (!list.ok()) return list.status();
    auto pair = keys::read_secret_file(dir + "/" + name + ".key");
    if (!pair.ok()) return pair.status();
    if (list->find_key(pair->public_key) != nullptr) continue;
    if (list->find_name(name) != nullptr)
      if (Status s = revoke_key(allow, name); !s.ok()) return s;  // a key made again since
    if (Status s = allow_key(allow, {pair->public_key, name, role}); !s.ok()) return s;
  }
  return Status::Ok();
}

pid_t signal_bus(const std::string& allow_path, const std::string& pid_file) {
  pid_t pid = 0;
  std::ifstream(pid_file) >> pid;
  if (pid <= 0 || !is_pier_bus(pid)) {
    pid = 0;
    std::error_code ec;
    const std::string wanted = fs::weakly_canonical(allow_path, ec).string();
    for (const auto& entry : fs::directory_iterator("/proc", ec)) {
      const std::string id = entry.path().filename().string();
      if (id.find_first_not_of("0123456789") != std::string::npos) continue;
      const pid_t candidate = std::stoi(id);
      if (!is_pier_bus(candidate)) continue;
      std::string cmdline = files::read_text("/proc/" + id + "/cmdline");
      std::vector<std::string> argv;
      for (std::size_t at = 0; at < cmdline.size();) {
        const auto end = cmdline.find('\0', at);
        argv.push_back(cmdline.substr(at, end - at));
        at = end == std::string::npos ? cmdline.size() : end + 1;
      }
      for (std::size_t i = 0; i + 1 < argv.size(); ++i)
        if (argv[i] == "--allow" && fs::weakly_canonical(argv[i + 1], ec).string() == wanted) pid = candidate;
      if (pid > 0) break;
    }
  }
  if (pid > 0 && ::kill(pid, SIGHUP) == 0) return pid;
  return 0;
}

int run_keys(const std::vector<std::string>& args, const Io& io) {
  const std::string usage =
      "usage: pier keys new NAME --role ROLE [--out DIR]\n       pier keys list [--dir DIR]\n       pier keys init "
      "[--dir DIR] [--host ID]...\n\nMakes a CURVE key pair (NAME.key, the secret, mode 0600; NAME.pub), lists the "
      "keys in a folder, or makes what a bus needs there (init: the bus's key, one per service, operator, an agent "
      "key per --host, default this machine's host id, and the allowlist `allow`; keys there are kept).\nRoles: "
      "registry, scheduler, lbgen, metrics, agent (NAME = its host id), operator, reader.\nDIR defaults to "
      "PIER_KEYS_DIR, else pier dev's state dir/keys.";
  std::string verb, name, role_text, dir;
  std::vector<std::string> hosts;
  po::options_description desc("pier keys options");
  // clang-format off
  desc.add_options()
      ("verb", po::value(&verb), "new | list | init")
      ("name", po::value(&name), "the key's name")
      ("role", po::value(&role_text), "new: the key's role")
      ("out", po::value(&dir), "new: where the files go")
      ("dir", po::value(&dir), "list, init: the folder")
      ("host", po::value(&hosts)->composing(), "init: a host whose agent key to make (repeatable)");
  // clang-format on
  po::positional_options_description positional;
  positional.add("verb", 1).add("name", 1);
  if (auto code = exit_after_parse(parse_args(args, desc, &positional), help_text(usage, desc), io)) return *code;
  if (dir.empty()) dir = default_keys_dir();
  if (verb == "new") {
    if (Status s = keys::check_name("name", name); !s.ok()) {
      io.err("error: " + s.message());
      return kExitBadInput;
    }
    auto role = keys::parse_role("role", role_text);
    if (!role.ok()) {
      io.err("error: " + role.status().message());
      return kExitBadInput;
    }
    if (Status s = make_key(dir, name, keys::role_name(*role)); !s.ok()) {
      io.err("error: " + s.message());
      return kExitBadInput;
    }
    const std::string pub = *keys::read_public_key(dir + "/" + name + ".pub");
    io.out(dir + "/" + name + ".key (secret, mode 0600) and " + name + ".pub: " + role_text + " key " + name);
    io.out("allowlist line: " + pub + " " + name + " " + role_text);
    return kExitOk;
  }
  if (verb == "init") {
    if (hosts.empty()) {
      char host_name[256] = {};
      ::gethostname(host_name, sizeof host_name - 1);
      hosts.push_back(host_id_from(host_name));
    }
    std::vector<std::pair<std::string, keys::Role>> clients;
    for (const auto& [key, role] : dev_key_names(hosts[0]))
      if (role != keys::Role::agent) clients.emplace_back(key, role);
    for (const auto& host : hosts) {
      if (Status s = keys::check_name("host", host); !s.ok()) {
        io.err("error: " + s.message());
        return kExitBadInput;
      }
      clients.emplace_back(host, keys::Role::agent);
    }
    if (Status s = ensure_dev_keys(dir, clients); !s.ok()) {
      io.err("error: " + s.message());
      return kExitBadInput;
    }
    io.out(dir + ": the bus's key (bus.key, bus.pub), " + std::to_string(clients.size()) +
           " client keys and the allowlist (allow)");
    return kExitOk;
  }
  if (verb == "list") {
    std::vector<std::string> lines;
    std::error_code ec;
    std::string text;
    auto allowed = read_allowlist(dir + "/allow", text);
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.path().extension() != ".pub") continue;
      auto pub = keys::read_public_key(entry.path().string());
      if (!pub.ok()) continue;
      const bool in_list = allowed.ok() && allowed->find_key(*pub) != nullptr;
      lines.push_back(entry.path().stem().string() + "  " + keys::purpose_of(entry.path().string()) + "  " + *pub +
                      (in_list ? "  allowed" : ""));
    }
    if (ec) {
      io.err("error: dir: cannot read " + dir + ": " + ec.message());
      return kExitBadInput;
    }
    std::sort(lines.begin(), lines.end());
    io.out("NAME  ROLE  PUBLIC KEY  (allowed: in " + dir + "/allow)");
    for (const auto& l : lines) io.out(l);
    return kExitOk;
  }
  io.err("error: verb: must be new, list or init (see --help)");
  return kExitBadInput;
}

namespace {

struct HostKeyFlags {
  bus::Endpoints endpoints;
  std::string name;
  std::string dir;
  std::string allow;
};

std::optional<int> parse_host_flags(const std::vector<std::string>& args, const std::string& usage, HostKeyFlags& f,
                                    const Io& io) {
  po::options_description desc("pier hosts add/remove options");
  options::add_bus(desc, f.endpoints);
  // clang-format off
  desc.add_options()
      ("name", po::value(&f.name), "the host id")
      ("keys-dir", po::value(&f.dir), "where the keys are (default PIER_KEYS_DIR, else pier dev's state dir/keys)")
      ("allow", po::value(&f.allow), "the bus's allowlist (default <keys-dir>/allow)");
  // clang-format on
  po::positional_options_description positional;
  positional.add("name", 1);
  auto parsed =
      parse_args(args, desc, &positional, {"bus-pub", "bus-sub", "curve-secret", "bus-public-key", "keys-dir"});
  if (auto code = exit_after_parse(parsed, help_text(usage, desc), io)) return code;
  if (Status s = keys::check_name("name", f.name); !s.ok()) {
    io.err("error: " + s.message());
    return kExitBadInput;
  }
  if (f.dir.empty()) f.dir = default_keys_dir();
  if (f.allow.empty()) f.allow = f.dir + "/allow";
  return std::nullopt;
}

void reload_bus(const HostKeyFlags& f, const Io& io) {
  if (pid_t pid = signal_bus(f.allow, f.dir + "/../pids/bus.pid"); pid > 0)
    io.out("pier-bus (pid " + std::to_string(pid) + ") reloads " + f.allow);
  else
    io.out("no pier-bus reading " + f.allow + " found here: send it SIGHUP (kill -HUP <pid of pier-bus>)");
}

}  // namespace

int run_hosts_add(const std::vector<std::string>& args, const Io& io) {
  HostKeyFlags f;
  const std::string usage =
      "usage: pier hosts add NAME [--keys-dir DIR] [--allow FILE] [bus options]\n\nMakes the agent key of host NAME, "
      "adds it to the bus's allowlist, has pier-bus reload it, and prints\nthe one command to run on the new host.";
  if (auto done = parse_host_flags(args, usage, f, io)) return *done;
  std::string bus_public;
  if (auto pub = keys::read_public_key(f.dir + "/bus.pub"); pub.ok())
    bus_public = *pub;
  else if (f.endpoints.curve)
    bus_public = f.endpoints.curve->server_key;
  else {
    io.err("error: bus-public-key: no " + f.dir + "/bus.pub and no --bus-public-key: the new host needs the bus's key");
    return kExitBadInput;
  }
  // Checked before anything is written: a refused add changes nothing.
  std::string text;
  if (auto list = read_allowlist(f.allow, text); !list.ok() || list->find_name(f.name) != nullptr) {
    io.err("error: " + (list.ok() ? "name: " + f.name + " is in " + f.allow + " already" : list.status().message()));
    return kExitBadInput;
  }
  if (Status s = make_key(f.dir, f.name, "agent"); !s.ok()) {
    io.err("error: " + s.message());
    return kExitBadInput;
  }
  auto pair = keys::read_secret_file(f.dir + "/" + f.name + ".key");
  if (!pair.ok()) {
    io.err("error: " + pair.status().message());
    return kExitNotDone;
  }
  if (Status s = allow_key(f.allow, {pair->public_key, f.name, keys::Role::agent}); !s.ok()) {
    io.err("error: " + s.message());
    return kExitBadInput;
  }
  io.out("host " + f.name + ": agent key " + f.dir + "/" + f.name + ".key, allowed in " + f.allow);
  reload_bus(f, io);
  io.out("on the new host, run:");
  io.out("  " + join_command(f.name, f.endpoints, bus_public, pair->secret_key));
  return kExitOk;
}

int run_hosts_remove(const std::vector<std::string>& args, const Io& io) {
  HostKeyFlags f;
  const std::string usage =
      "usage: pier hosts remove NAME [--keys-dir DIR] [--allow FILE]\n\nRevokes host NAME's key: removes it from the "
      "bus's allowlist and has pier-bus reload it (the bus\ncloses its connections). Its key files are kept.";
  if (auto done = parse_host_flags(args, usage, f, io)) return *done;
  if (Status s = revoke_key(f.allow, f.name); !s.ok()) {
    io.err("error: " + s.message());
    return kExitBadInput;
  }
  io.out("host " + f.name + ": key removed from " + f.allow);
  reload_bus(f, io);
  return kExitOk;
}

}  // namespace pier::cli
