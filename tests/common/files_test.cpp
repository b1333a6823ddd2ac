#include "common/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "tests/support/temp_dir.h"

namespace pier::files {
namespace {

namespace fs = std::filesystem;

TEST(FilesTest, WriteAtomicallyReplacesTheWholeFileAndLeavesNoTemporary) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/state";
  ASSERT_TRUE(write_atomically(path, "a longer first version\n").ok());
  ASSERT_TRUE(write_atomically(path, std::string("short\0bytes", 11)).ok());
  EXPECT_EQ(read_text(path), std::string("short\0bytes", 11));
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST(FilesTest, WriteAtomicallyGivesTheModeAskedForWhateverTheUmask) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/secret";
  const mode_t old = ::umask(0);
  ASSERT_TRUE(write_atomically(path, "x", 0600).ok());
  ::umask(old);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(FilesTest, AFailedWriteNamesThePathAndLeavesTheOldFile) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/kept";
  ASSERT_TRUE(write_atomically(path, "old").ok());
  // The temporary cannot be made where a folder of that name stands.
  fs::create_directory(path + ".tmp");
  const Status s = write_atomically(path, "new");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.field(), path);
  EXPECT_NE(s.rule().find("cannot create"), std::string::npos) << s.message();
  EXPECT_EQ(read_text(path), "old");
}

TEST(FilesTest, ReadTextOfAMissingFileIsEmpty) {
  testing::TempDir dir;
  EXPECT_EQ(read_text(dir.path() + "/none"), "");
}

}  // namespace
}  // namespace pier::files
