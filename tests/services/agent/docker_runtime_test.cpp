// The docker runtime's pure parts: the container it asks the daemon for, and reading its logs. The
// runtime against a real daemon is covered by tests/e2e/docker_test.cpp.
#include "services/agent/docker_runtime.h"

#include <gtest/gtest.h>

namespace pier::agent {
namespace {

InstanceSpec web1() {
  InstanceSpec spec;
  spec.id = "web-1";
  spec.app = "web";
  spec.ip = "10.213.1.2";
  spec.port = 8000;
  spec.command = {"pier-demo-app", "--mode", "tcp"};
  spec.env = {{"FOO", "bar"}};
  spec.revision = 7;
  spec.image = "pier/demo-app";
  spec.tag = "0.1.0";
  spec.cpu = 0.5;
  spec.memory_bytes = 64LL << 20;
  spec.subnet = "10.213.1.0/24";
  return spec;
}

TEST(DockerRuntime, ContainerConfigCarriesLimitsEnvLabelsAndAddress) {
  const auto config = DockerRuntime::container_config(web1(), "h1", "pier-h1");
  EXPECT_EQ(config["Image"], "pier/demo-app:0.1.0");
  EXPECT_EQ(config["HostConfig"]["NanoCpus"], 500'000'000);
  EXPECT_EQ(config["HostConfig"]["Memory"], 64LL << 20);
  EXPECT_EQ(config["HostConfig"]["NetworkMode"], "pier-h1");
  EXPECT_EQ(config["NetworkingConfig"]["EndpointsConfig"]["pier-h1"]["IPAMConfig"]["IPv4Address"], "10.213.1.2");
  const auto& env = config["Env"];
  for (const char* expected : {"FOO=bar", "PORT=8000", "HOST=10.213.1.2", "PIER_INSTANCE=web-1", "PIER_APP=web",
                               "PIER_HOST_ID=h1", "PIER_REVISION=7"})
    EXPECT_NE(std::find(env.begin(), env.end(), expected), env.end()) << expected;
  EXPECT_EQ(config["Labels"][kLabelHost], "h1");
  EXPECT_EQ(config["Labels"][kLabelApp], "web");
  EXPECT_EQ(config["Labels"][kLabelInstance], "web-1");
  EXPECT_EQ(config["Labels"][kLabelRevision], "7");
  EXPECT_EQ(config["Labels"][kLabelIp], "10.213.1.2");
  EXPECT_EQ(config["Labels"][kLabelPort], "8000");
  EXPECT_TRUE(config["ExposedPorts"].contains("8000/tcp"));
}

TEST(DockerRuntime, CommandReplacesTheEntrypointAndNoCommandKeepsTheImages) {
  auto config = DockerRuntime::container_config(web1(), "h1", "pier-h1");
  EXPECT_EQ(config["Entrypoint"], nlohmann::json::array({"pier-demo-app"}));
  EXPECT_EQ(config["Cmd"], nlohmann::json::array({"--mode", "tcp"}));
  InstanceSpec bare = web1();
  bare.command.clear();
  config = DockerRuntime::container_config(bare, "h1", "pier-h1");
  EXPECT_FALSE(config.contains("Entrypoint"));
  EXPECT_FALSE(config.contains("Cmd"));
}

std::string frame(char stream, const std::string& payload) {
  std::string out = {stream, 0, 0, 0};
  const uint32_t n = static_cast<uint32_t>(payload.size());
  out += static_cast<char>(n >> 24);
  out += static_cast<char>((n >> 16) & 0xff);
  out += static_cast<char>((n >> 8) & 0xff);
  out += static_cast<char>(n & 0xff);
  return out + payload;
}

TEST(DockerRuntime, LastLogLineReadsMultiplexedAndRawLogs) {
  EXPECT_EQ(DockerRuntime::last_log_line(frame(1, "starting\n") + frame(2, "fatal: port taken\n\n")),
            "fatal: port taken");
  EXPECT_EQ(DockerRuntime::last_log_line("plain tty output\nlast words\n"), "last words");
  EXPECT_EQ(DockerRuntime::last_log_line(""), "");
  // A frame cut short (the daemon closed mid-way) keeps what came whole.
  std::string cut = frame(1, "whole line\n") + frame(1, "partial");
  cut.resize(cut.size() - 3);
  EXPECT_EQ(DockerRuntime::last_log_line(cut), "whole line");
}

TEST(DockerEngine, UrlEncodeLeavesUnreservedAndEscapesTheRest) {
  EXPECT_EQ(url_encode("pier/demo-app"), "pier%2Fdemo-app");
  EXPECT_EQ(url_encode("{\"label\":[\"a=b\"]}"), "%7B%22label%22%3A%5B%22a%3Db%22%5D%7D");
  EXPECT_EQ(url_encode("A-z_0.9~"), "A-z_0.9~");
}

TEST(DockerEngine, UnreachableDaemonIsAnErrorValueNamingTheSocket) {
  DockerEngine engine("/nonexistent/docker.sock");
  const Status s = engine.ping();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/nonexistent/docker.sock"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace pier::agent
