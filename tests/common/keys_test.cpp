#include "common/keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "tests/support/temp_dir.h"

namespace pier::keys {
namespace {

void write_file(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
}

TEST(Keys, GeneratedPairIsZ85AndItsPublicHalfDerives) {
  auto pair = generate();
  ASSERT_TRUE(pair.ok());
  EXPECT_EQ(pair->public_key.size(), kZ85KeyChars);
  EXPECT_TRUE(check_z85_key("k", pair->secret_key).ok());
  auto derived = public_of(pair->secret_key);
  ASSERT_TRUE(derived.ok());
  EXPECT_EQ(*derived, pair->public_key);
}

TEST(Keys, RolesParseByNameAndRefuseOthersNamingTheList) {
  EXPECT_EQ(*parse_role("role", "operator"), Role::operator_);
  EXPECT_EQ(role_name(Role::agent), "agent");
  auto bad = parse_role("role", "root");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().field(), "role");
  EXPECT_NE(bad.status().rule().find("registry, scheduler"), std::string::npos);
}

TEST(Keys, WritePairMakesA0600SecretAndRefusesToOverwrite) {
  testing::TempDir dir;
  auto pair = *generate();
  ASSERT_TRUE(write_pair(dir.path(), "web-1", "agent", pair).ok());
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() + "/web-1.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto read = read_secret_file(dir.path() + "/web-1.key");
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(read->secret_key, pair.secret_key);
  EXPECT_EQ(read->public_key, pair.public_key);
  EXPECT_EQ(*read_public_key(dir.path() + "/web-1.pub"), pair.public_key);

  auto again = write_pair(dir.path(), "web-1", "agent", *generate());
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.message().find("never overwritten"), std::string::npos);
  EXPECT_EQ(read_secret_file(dir.path() + "/web-1.key")->secret_key, pair.secret_key);
  EXPECT_EQ(write_pair(dir.path(), "Bad_Name", "agent", pair).field(), "name");
}

TEST(Keys, SecretFileReadableByOthersIsRefusedNamingTheFileAndRule) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/s.key";
  write_file(path, generate()->secret_key + "\n", 0644);
  auto read = read_secret_file(path);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().field(), path);
  EXPECT_NE(read.status().rule().find("group or others"), std::string::npos);
  ::chmod(path.c_str(), 0640);
  EXPECT_FALSE(read_secret_file(path).ok());
  ::chmod(path.c_str(), 0600);
  EXPECT_TRUE(read_secret_file(path).ok());
}

TEST(Keys, SecretFileWithoutAKeyIsRefused) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/s.key";
  write_file(path, "# nothing\n\nnot-a-key\n", 0600);
  EXPECT_FALSE(read_secret_file(path).ok());
  EXPECT_FALSE(read_secret_file(dir.path() + "/missing.key").ok());
}

TEST(Keys, PublicKeyIsTakenAsItIsOrFromAFile) {
  const std::string key = generate()->public_key;
  EXPECT_EQ(*read_public_key(key), key);
  auto bad = read_public_key("/no/such/file");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().rule().find("40 characters of Z85"), std::string::npos);
}

TEST(Keys, APathThatIsAlsoValidZ85IsReadAsAFile) {
  // The fleet's keys once lived at such a path (40 characters, every one of them Z85): taken as the
  // key itself, it made every CURVE handshake with the bus fail.
  testing::TempDir dir;
  std::string path = dir.path() + "/";
  path += std::string(40 - path.size() - 4, 'k') + ".pub";
  ASSERT_EQ(path.size(), 40u);
  ASSERT_TRUE(check_z85_key("path", path).ok()) << path;
  const std::string key = generate()->public_key;
  write_file(path, "# the bus\n" + key + "\n", 0644);
  EXPECT_EQ(*read_public_key(path), key);
}

TEST(Allowlist, ParsesKeysNamesAndRolesSkippingCommentsAndBlankLines) {
  const auto a = generate()->public_key, b = generate()->public_key;
  auto list = Allowlist::parse("# pier keys\n\n" + a + " registry registry\n  " + b + " web-1 agent  # host\n");
  ASSERT_TRUE(list.ok()) << list.status().message();
  ASSERT_EQ(list->keys().size(), 2u);
  EXPECT_EQ(list->find_key(b)->name, "web-1");
  EXPECT_EQ(list->find_key(b)->role, Role::agent);
  EXPECT_EQ(list->find_name("registry")->public_key, a);
  EXPECT_EQ(list->find_key("nope"), nullptr);
  EXPECT_EQ(Allowlist::parse(Allowlist::line(list->keys()[1]))->keys()[0].name, "web-1");
}

TEST(Allowlist, BadLinesAreRefusedNamingTheLineAndRule) {
  const auto a = generate()->public_key;
  struct Case {
    std::string text;
    std::string field;
    std::string rule_part;
  };
  const std::vector<Case> cases = {
      {"\n" + a + " web-1\n", "line 2", "<z85 public key> <name> <role>"},
      {a + " web-1 agent extra\n", "line 1", "<z85 public key> <name> <role>"},
      {"short web-1 agent\n", "line 1 key", "40 characters of Z85"},
      {a + " Web_1 agent\n", "line 1 name", "DNS label"},
      {a + " web-1 root\n", "line 1 role", "must be registry"},
      {a + " web-1 agent\n" + a + " web-2 agent\n", "line 2 key", "once"},
      {a + " web-1 agent\n" + generate()->public_key + " web-1 agent\n", "line 2 name", "once"},
  };
  for (const auto& c : cases) {
    auto list = Allowlist::parse(c.text);
    ASSERT_FALSE(list.ok()) << c.text;
    EXPECT_EQ(list.status().field(), c.field) << c.text;
    EXPECT_NE(list.status().rule().find(c.rule_part), std::string::npos) << list.status().message();
  }
}

}  // namespace
}  // namespace pier::keys
