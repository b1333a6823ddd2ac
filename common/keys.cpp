#include "common/keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/validate.h"

namespace pier::keys {
namespace {

constexpr std::array<std::pair<Role, std::string_view>, 7> kRoles = {{{Role::registry, "registry"},
                                                                      {Role::scheduler, "scheduler"},
                                                                      {Role::lbgen, "lbgen"},
                                                                      {Role::metrics, "metrics"},
                                                                      {Role::agent, "agent"},
                                                                      {Role::operator_, "operator"},
                                                                      {Role::reader, "reader"}}};

constexpr std::string_view kRoleList = "registry, scheduler, lbgen, metrics, agent, operator or reader";

std::string trim(std::string_view s) {
  const auto begin = s.find_first_not_of(" \t\r");
  if (begin == std::string_view::npos) return {};
  const auto end = s.find_last_not_of(" \t\r");
  return std::string(s.substr(begin, end - begin + 1));
}

// The first line that is neither blank nor a comment.
std::optional<std::string> first_line(std::string_view text) {
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    std::string t = trim(line);
    if (!t.empty() && t[0] != '#') return t;
  }
  return std::nullopt;
}

Result<std::string> slurp(const std::string& path, int fd) {
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Invalid(path, std::string("cannot read: ") + std::strerror(errno));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
    if (text.size() > (1 << 20)) return Status::Invalid(path, "must be at most 1 MiB");
  }
  return text;
}

Result<std::string> read_text(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Invalid(path, std::string("cannot open: ") + std::strerror(errno));
  auto text = slurp(path, fd);
  ::close(fd);
  return text;
}

Status write_new(const std::string& path, const std::string& text, mode_t mode) {
  // O_EXCL: never overwrite, even when two writers race.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST) return Status::Invalid(path, "exists already; keys are never overwritten");
    return Status::Invalid(path, std::string("cannot create: ") + std::strerror(errno));
  }
  ::fchmod(fd, mode);  // the umask does not get a say in a secret's mode
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const bool closed = ::close(fd) == 0;
  if (!written || !closed) {
    ::unlink(path.c_str());
    return Status::Invalid(path, std::string("cannot write: ") + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace

std::string_view role_name(Role role) {
  for (const auto& [r, name] : kRoles)
    if (r == role) return name;
  return "?";
}

Result<Role> parse_role(std::string_view field, std::string_view text) {
  for (const auto& [role, name] : kRoles)
    if (name == text) return role;
  return Status::Invalid(std::string(field), "must be " + std::string(kRoleList));
}

Result<KeyPair> generate() {
  char public_key[kZ85KeyChars + 1];
  char secret_key[kZ85KeyChars + 1];
  // Z85 has '#', which starts a comment in key files and the allowlist: a key that begins with it would
  // be read as one (1 key in 85). Such pairs are drawn again.
  do {
    if (zmq_curve_keypair(public_key, secret_key) != 0)
      return Status::Error(std::string("cannot make a CURVE key pair: ") + zmq_strerror(zmq_errno()));
  } while (public_key[0] == '#' || secret_key[0] == '#');
  return KeyPair{public_key, secret_key};
}

Status check_z85_key(std::string_view field, std::string_view key) {
  static constexpr std::string_view kZ85 =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
  if (key.size() != kZ85KeyChars || key.find_first_not_of(kZ85) != std::string_view::npos)
    return Status::Invalid(std::string(field), "must be a CURVE key: 40 characters of Z85");
  uint8_t raw[32];
  const std::string text(key);
  if (zmq_z85_decode(raw, text.c_str()) == nullptr)
    return Status::Invalid(std::string(field), "must be a CURVE key: 40 characters of Z85");
  return Status::Ok();
}

Result<std::string> public_of(std::string_view secret_key) {
  if (Status s = check_z85_key("secret key", secret_key); !s.ok()) return s;
  char public_key[kZ85KeyChars + 1];
  const std::string secret(secret_key);
  if (zmq_curve_public(public_key, secret.c_str()) != 0)
    return Status::Error(std::string("cannot derive the public key: ") + zmq_strerror(zmq_errno()));
  return std::string(public_key);
}

Status check_name(std::string_view field, std::string_view name) { return validate::dns_label(field, name); }

Result<KeyPair> read_secret_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Invalid(path, std::string("cannot open the secret key: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || (st.st_mode & 077) != 0) {
    ::close(fd);
    return Status::Invalid(path, "a secret key file must not be readable by group or others (chmod 600)");
  }
  auto text = slurp(path, fd);
  ::close(fd);
  if (!text.ok()) return text.status();
  const auto line = first_line(*text);
  if (!line) return Status::Invalid(path, "must hold a Z85 secret key on its first line");
  if (Status s = check_z85_key(path, *line); !s.ok()) return s;
  auto public_key = public_of(*line);
  if (!public_key.ok()) return public_key.status();
  return KeyPair{*public_key, *line};
}

Result<std::string> read_public_key(std::string_view key_or_path) {
  const std::string path(key_or_path);
  // A file first: a path of 40 characters is often valid Z85 too ("/tmp/pier-fleet-9654-b8F94N/keys/bus.pub"
  // decodes to a key, the wrong one, and every CURVE handshake with the bus fails).
  std::error_code ec;
  if (check_z85_key("", key_or_path).ok() && !std::filesystem::exists(path, ec)) return path;
  auto text = read_text(path);
  if (!text.ok())
    return Status::Invalid(
        path, "must be a CURVE public key (40 characters of Z85) or a file holding one (" + text.status().rule() + ")");
  const auto line = first_line(*text);
  if (!line) return Status::Invalid(path, "must hold a Z85 public key on its first line");
  if (Status s = check_z85_key(path, *line); !s.ok()) return s;
  return *line;
}

Status write_pair(const std::string& dir, std::string_view name, std::string_view what, const KeyPair& pair) {
  if (Status s = check_name("name", name); !s.ok()) return s;
  const std::string base = dir + "/" + std::string(name);
  const std::string comment = "# pier " + std::string(what) + " key " + std::string(name) + "\n";
  for (const char* suffix : {".key", ".pub"}) {
    if (::access((base + suffix).c_str(), F_OK) == 0)
      return Status::Invalid(base + suffix, "exists already; keys are never overwritten");
  }
  if (Status s =
          write_new(base + ".key", pair.secret_key + "\n" + comment + "# public " + pair.public_key + "\n", 0600);
      !s.ok())
    return s;
  if (Status s = write_new(base + ".pub", pair.public_key + "\n" + comment, 0644); !s.ok()) {
    ::unlink((base + ".key").c_str());
    return s;
  }
  return Status::Ok();
}

std::string purpose_of(const std::string& pub_path) {
  auto text = read_text(pub_path);
  if (!text.ok()) return {};
  const auto at = text->find("# pier ");
  if (at == std::string::npos) return {};
  std::istringstream words(text->substr(at + 7));
  std::string what;
  words >> what;
  return what;
}

Result<Allowlist> Allowlist::parse(std::string_view text) {
  Allowlist list;
  std::istringstream in{std::string(text)};
  int number = 0;
  for (std::string raw; std::getline(in, raw);) {
    ++number;
    const std::string line = trim(raw);
    if (line.empty() || line[0] == '#') continue;
    const std::string where = "line " + std::to_string(number);
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string word; words >> word;) {
      if (word[0] == '#') break;  // a comment after the fields
      w.push_back(word);
    }
    if (w.size() != 3) return Status::Invalid(where, "must be '<z85 public key> <name> <role>'");
    AllowedKey key;
    if (Status s = check_z85_key(where + " key", w[0]); !s.ok()) return s;
    if (Status s = check_name(where + " name", w[1]); !s.ok()) return s;
    auto role = parse_role(where + " role", w[2]);
    if (!role.ok()) return role.status();
    key = {w[0], w[1], *role};
    if (list.by_key_.contains(key.public_key)) return Status::Invalid(where + " key", "must appear once");
    if (list.by_name_.contains(key.name)) return Status::Invalid(where + " name", "must appear once");
    list.by_key_.emplace(key.public_key, list.keys_.size());
    list.by_name_.emplace(key.name, list.keys_.size());
    list.keys_.push_back(std::move(key));
  }
  return list;
}

Result<Allowlist> Allowlist::read_file(const std::string& path) {
  auto text = read_text(path);
  if (!text.ok()) return text.status();
  auto list = parse(*text);
  if (!list.ok()) return Status::Invalid(path + " " + list.status().field(), list.status().rule());
  return list;
}

const AllowedKey* Allowlist::find_key(std::string_view public_key) const {
  const auto it = by_key_.find(public_key);
  return it == by_key_.end() ? nullptr : &keys_[it->second];
}

const AllowedKey* Allowlist::find_name(std::string_view name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &keys_[it->second];
}

std::string Allowlist::line(const AllowedKey& key) {
  return key.public_key + " " + key.name + " " + std::string(role_name(key.role));
}

}  // namespace pier::keys
