// Loading an operator's template (--template FILE): every way it can be wrong is a clear error that
// names the file, and the real pier-lbgen refuses to start with it.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/process.h"
#include "services/lbgen/render.h"
#include "tests/support/temp_dir.h"

namespace pier::lbgen {
namespace {

namespace fs = std::filesystem;

struct TemplateFileTest : ::testing::Test {
  pier::testing::TempDir temp{"pier-lbgen-template-"};
  const fs::path dir{temp.path()};
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return (dir / name).string();
  }
};

TEST_F(TemplateFileTest, NoPathMeansTheBuiltInTemplate) {
  auto text = load_template("");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, default_template());
}

TEST_F(TemplateFileTest, AGoodFileIsLoaded) {
  const std::string path = write("good.mustache", "global\n{{#frontends}}# {{name}}\n{{/frontends}}");
  auto text = load_template(path);
  ASSERT_TRUE(text.ok()) << text.status().message();
  EXPECT_EQ(*text, "global\n{{#frontends}}# {{name}}\n{{/frontends}}");
}

TEST_F(TemplateFileTest, EveryBadFileIsAnErrorNamingIt) {
  const std::string missing = (dir / "missing.mustache").string();
  const std::string broken = write("broken.mustache", "global\n{{#frontends}}\nnever closed\n");
  const std::string empty = write("empty.mustache", "");
  const std::string folder = (dir / "folder").string();
  fs::create_directory(folder);
  for (const auto& [path, words] : std::vector<std::pair<std::string, std::string>>{{missing, "cannot read template"},
                                                                                    {broken, "unusable"},
                                                                                    {empty, "unusable"},
                                                                                    {folder, "not a regular file"}}) {
    auto text = load_template(path);
    ASSERT_FALSE(text.ok()) << path;
    EXPECT_NE(text.status().message().find(path), std::string::npos) << text.status().message();
    EXPECT_NE(text.status().message().find(words), std::string::npos) << text.status().message();
  }
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The real binary: exits 1 at start, before touching the bus, with the reason in its log.
TEST_F(TemplateFileTest, PierLbgenRefusesToStartWithABadTemplate) {
  const std::string broken = write("broken.mustache", "{{#backends}}\n");
  for (const std::string& path : {(dir / "missing.mustache").string(), broken}) {
    process::SpawnOptions options;
    options.argv = {std::string(PIER_BIN_DIR) + "/pier-lbgen",
                    "--template",
                    path,
                    "--bus-pub",
                    "tcp://127.0.0.1:1",
                    "--bus-sub",
                    "tcp://127.0.0.1:1"};
    options.output_path = (dir / "lbgen.out").string();
    options.error_path = (dir / "lbgen.err").string();
    auto pid = process::spawn(options);
    ASSERT_TRUE(pid.ok()) << pid.status().message();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    std::optional<int> code;
    while (!(code = process::try_wait(*pid)) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!code) code = process::stop(*pid, 1000);
    const std::string log = slurp(dir / "lbgen.out") + slurp(dir / "lbgen.err");
    EXPECT_EQ(*code, 1) << log;
    EXPECT_NE(log.find("template " + path), std::string::npos) << log;
  }
}

}  // namespace
}  // namespace pier::lbgen
