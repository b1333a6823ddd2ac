// pier keys init: what a bus with keys needs, made in one step (the bus's key, one per service, operator,
// an agent key per host, the allowlist), kept when run again; a bad host refused naming it.
#include "cli/keys.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "cli/commands.h"
#include "common/files.h"
#include "common/keys.h"
#include "tests/support/temp_dir.h"

namespace pier::cli {
namespace {

struct Ran {
  int code = 0;
  std::string out, err;
};

Ran keys_cli(const std::vector<std::string>& args) {
  Ran ran;
  Io io{[&](const std::string& l) { ran.out += l + "\n"; }, [&](const std::string& l) { ran.err += l + "\n"; }};
  ran.code = run_keys(args, io);
  return ran;
}

TEST(KeysInit, MakesTheBusKeyEveryServiceOperatorAndEachHostAllowedWithItsRole) {
  testing::TempDir temp;
  const std::string dir = temp.path() + "/keys";
  const Ran ran = keys_cli({"init", "--dir", dir, "--host", "web-1", "--host", "web-2"});
  ASSERT_EQ(ran.code, 0) << ran.err;
  ASSERT_TRUE(keys::read_secret_file(dir + "/bus.key").ok());
  auto list = keys::Allowlist::parse(files::read_text(dir + "/allow"));
  ASSERT_TRUE(list.ok()) << list.status().message();
  const std::vector<std::pair<std::string, keys::Role>> expected = {
      {"registry", keys::Role::registry}, {"scheduler", keys::Role::scheduler}, {"lbgen", keys::Role::lbgen},
      {"metrics", keys::Role::metrics},   {"operator", keys::Role::operator_},  {"web-1", keys::Role::agent},
      {"web-2", keys::Role::agent}};
  for (const auto& [name, role] : expected) {
    auto pair = keys::read_secret_file(dir + "/" + name + ".key");
    ASSERT_TRUE(pair.ok()) << name << ": " << pair.status().message();
    const keys::AllowedKey* allowed = list->find_key(pair->public_key);
    ASSERT_NE(allowed, nullptr) << name;
    EXPECT_EQ(allowed->name, name);
    EXPECT_EQ(allowed->role, role) << name;
  }
  EXPECT_EQ(list->find_name("bus"), nullptr) << "the bus's own key is not a client";

  // Again, with one more host: the keys made before are kept, the new host is added.
  const std::string registry_before = files::read_text(dir + "/registry.key");
  const Ran again = keys_cli({"init", "--dir", dir, "--host", "web-1", "--host", "web-2", "--host", "web-3"});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(files::read_text(dir + "/registry.key"), registry_before);
  list = keys::Allowlist::parse(files::read_text(dir + "/allow"));
  ASSERT_TRUE(list.ok());
  EXPECT_NE(list->find_name("web-3"), nullptr);
  EXPECT_NE(list->find_name("web-1"), nullptr);
}

TEST(KeysInit, AHostThatIsNoDnsLabelIsRefusedNamingItAndNothingIsMade) {
  testing::TempDir temp;
  const std::string dir = temp.path() + "/keys";
  const Ran ran = keys_cli({"init", "--dir", dir, "--host", "web_1;x"});
  EXPECT_EQ(ran.code, kExitBadInput);
  EXPECT_NE(ran.err.find("host"), std::string::npos) << ran.err;
  EXPECT_FALSE(std::filesystem::exists(dir));
}

}  // namespace
}  // namespace pier::cli
