#include "cli/args.h"

#include <gtest/gtest.h>

namespace pier::cli {
namespace {

po::options_description deploy_like() {
  po::options_description desc;
  // clang-format off
  desc.add_options()
      ("replicas", po::value<std::string>())
      ("command", po::value<std::vector<std::string>>()->composing())
      ("detach", po::bool_switch())
      ("bus-pub", po::value<std::string>()->default_value("tcp://default"));
  // clang-format on
  return desc;
}

TEST(ParseArgs, AValueMayStartWithADash) {
  auto parsed = parse_args({"--replicas", "-1", "--command", "--mode", "--detach"}, deploy_like());
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->values["replicas"].as<std::string>(), "-1");
  EXPECT_EQ(parsed->values["command"].as<std::vector<std::string>>(), std::vector<std::string>{"--mode"});
  EXPECT_TRUE(parsed->values["detach"].as<bool>());
}

TEST(ParseArgs, RepeatedOptionsCompose) {
  auto parsed = parse_args({"--command", "a b", "--command=c"}, deploy_like());
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->values["command"].as<std::vector<std::string>>(), (std::vector<std::string>{"a b", "c"}));
}

TEST(ParseArgs, UnknownOptionIsAnErrorValue) {
  auto parsed = parse_args({"--nope", "1"}, deploy_like());
  EXPECT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("nope"), std::string::npos);
}

TEST(ParseArgs, HelpIsReportedNotExecuted) {
  auto parsed = parse_args({"--help"}, deploy_like());
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->help);
}

TEST(ParseArgs, EnvironmentFillsOnlyListedOptionsAndLosesToTheCommandLine) {
  ::setenv("PIER_BUS_PUB", "tcp://from-env", 1);
  ::setenv("PIER_REPLICAS", "7", 1);
  auto parsed = parse_args({}, deploy_like(), nullptr, {"bus-pub"});
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->values["bus-pub"].as<std::string>(), "tcp://from-env");
  EXPECT_EQ(parsed->values.count("replicas"), 0u);
  parsed = parse_args({"--bus-pub", "tcp://flag"}, deploy_like(), nullptr, {"bus-pub"});
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->values["bus-pub"].as<std::string>(), "tcp://flag");
  ::unsetenv("PIER_BUS_PUB");
  ::unsetenv("PIER_REPLICAS");
}

TEST(SplitWords, SplitsOnBlanks) {
  EXPECT_EQ(split_words("  pier-demo-app --mode\ttcp "), (std::vector<std::string>{"pier-demo-app", "--mode", "tcp"}));
  EXPECT_TRUE(split_words("   ").empty());
}

}  // namespace
}  // namespace pier::cli
