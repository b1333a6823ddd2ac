// CURVE keys of the bus: key pairs (Z85, 40 characters each), the files that hold them, and the
// allowlist pier-bus admits (one key per line, with the key's name and role). docs/SECURITY.md.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace pier::keys {

inline constexpr std::size_t kZ85KeyChars = 40;

// What a key may do on the bus (services/bus/authorize.h holds the topic table).
enum class Role { registry, scheduler, lbgen, metrics, agent, operator_, reader };

std::string_view role_name(Role role);
// "registry" ... "reader"; anything else refused naming `field` and the list.
Result<Role> parse_role(std::string_view field, std::string_view text);

struct KeyPair {
  std::string public_key;  // Z85
  std::string secret_key;  // Z85
};

// A fresh pair from libzmq (zmq_curve_keypair).
Result<KeyPair> generate();
// The public half of a secret key (zmq_curve_public); refuses a key that is not 40 Z85 characters.
Result<std::string> public_of(std::string_view secret_key);
// 40 characters of Z85 that decode to 32 bytes, or a refusal naming `field`.
Status check_z85_key(std::string_view field, std::string_view key);

// A key's name: a DNS label (an agent's name is its host id).
Status check_name(std::string_view field, std::string_view name);

// The secret key file: its first line is the Z85 secret key ('#' lines before it are comments). Refused
// when the file is readable by group or others (mode & 077), naming the file and the rule.
Result<KeyPair> read_secret_file(const std::string& path);
// A public key given on a command line: the path of a file whose first non-comment line is the key,
// or else (no such file) 40 Z85 characters as they are.
Result<std::string> read_public_key(std::string_view key_or_path);

// Writes `<dir>/<name>.key` (mode 0600: the secret, then comments: `what`, the public key) and
// `<dir>/<name>.pub` (mode 0644: the public key, then `# pier <what> key <name>`). Refuses to
// overwrite either, and a bad name. `what` is a role's name, or "bus" for the bus's own key.
Status write_pair(const std::string& dir, std::string_view name, std::string_view what, const KeyPair& pair);
// What a .pub file written by write_pair says its key is for ("agent", "bus"), empty when it does not say.
std::string purpose_of(const std::string& pub_path);

struct AllowedKey {
  std::string public_key;
  std::string name;
  Role role = Role::reader;
};

// The allowlist: `<z85 public key> <name> <role>` per line, blank lines and `#` comments ignored.
class Allowlist {
 public:
  // Refuses the first bad line naming its number and the rule broken; a key or a name twice is refused.
  static Result<Allowlist> parse(std::string_view text);
  static Result<Allowlist> read_file(const std::string& path);

  const AllowedKey* find_key(std::string_view public_key) const;
  const AllowedKey* find_name(std::string_view name) const;
  const std::vector<AllowedKey>& keys() const { return keys_; }
  // The line that parse reads back as `key`.
  static std::string line(const AllowedKey& key);

 private:
  std::vector<AllowedKey> keys_;
  std::map<std::string, std::size_t, std::less<>> by_key_;
  std::map<std::string, std::size_t, std::less<>> by_name_;
};

}  // namespace pier::keys
