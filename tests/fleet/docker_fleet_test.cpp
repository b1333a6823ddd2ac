// Docker hosts on a fleet (issue 13): h1 and h2 each run a dockerd of their own inside their network
// namespace (tests/fleet/dockerd_ns.sh: own data root, exec root, socket, containerd; iptables on, as
// dockerd's default), pier's demo image loaded from the machine's dockerd, and agents with the docker
// runtime on the VXLAN overlay. From the client, requests through either host reach the containers of
// both: the overlay routes the other host's bridge subnet, pier's DOCKER-USER rule lets it past docker's
// FORWARD rules. Skipped without the machine's dockerd and the image, unless PIER_REQUIRE_DOCKER is set.
#include <gtest/gtest.h>

#include <cstdlib>

#include "common/version.h"
#include "tests/fleet/fleet.h"

namespace pier::fleet {
namespace {

using namespace std::chrono_literals;

constexpr int kPort = 8080;

bool docker_required() {
  const char* v = std::getenv("PIER_REQUIRE_DOCKER");
  return v != nullptr && std::string(v) == "1";
}

// Runs a shell line in the root namespace (docker save | docker load, the dockerd_ns.sh script).
int shell(const std::string& line) { return std::system(line.c_str()); }

// A dockerd in a host's namespace, purged (containers, mounts, folder) when destroyed.
class NamespaceDockerd {
 public:
  NamespaceDockerd(std::string ns, std::string dir, std::string log)
      : ns_(std::move(ns)), dir_(std::move(dir)), log_(std::move(log)) {}
  ~NamespaceDockerd() {
    if (started_) shell(script() + " purge " + ns_ + " " + dir_ + " >/dev/null 2>&1");
  }
  bool start() {
    started_ = true;
    return shell(script() + " start " + ns_ + " " + dir_ + " >" + log_ + " 2>&1") == 0;
  }
  std::string socket() const { return dir_ + "/docker.sock"; }
  static std::string script() { return std::string(PIER_SOURCE_DIR) + "/tests/fleet/dockerd_ns.sh"; }

 private:
  std::string ns_, dir_, log_;
  bool started_ = false;
};

TEST(DockerFleetTest, ContainersOnTwoDockerHostsAnswerThroughEitherHost) {
  const std::string image = std::string("pier/demo-app:") + kVersion;
  if (shell("docker image inspect " + image + " >/dev/null 2>&1") != 0) {
    if (docker_required()) FAIL() << "no " << image << " in the machine's dockerd (scripts/images.sh makes it)";
    GTEST_SKIP() << "no dockerd with " << image;
  }
  auto fleet = Fleet::create();
  ASSERT_TRUE(fleet.ok()) << fleet.status().message();
  Fleet& f = **fleet;
  ASSERT_TRUE(f.start_control());
  // Short folders: containerd's socket path under each must fit in 108 bytes.
  const std::string base = "/tmp/pfd" + std::to_string(::getpid());
  std::vector<std::unique_ptr<NamespaceDockerd>> daemons;
  const auto start = std::chrono::steady_clock::now();
  for (const std::string host : {"h1", "h2"}) {
    const std::string log = f.dir() + "/dockerd-" + host + ".start.log";
    daemons.push_back(std::make_unique<NamespaceDockerd>(f.ns(host), base + host, log));
    ASSERT_TRUE(daemons.back()->start()) << e2e::read_file(log);
    ASSERT_EQ(shell("docker save " + image + " | docker -H unix://" + daemons.back()->socket() + " load >/dev/null"),
              0);
    const std::vector<std::string> extra = {"--docker-socket", daemons.back()->socket()};
    ASSERT_TRUE(f.start_agent(host, "vxlan", extra, "docker")) << f.agent_log(host);
  }
  report("docker fleet: two dockerds in their namespaces, image loaded, agents up in " +
         std::to_string(ms_since(start)) + " ms");
  ASSERT_TRUE(f.wait_for_hosts({"h1", "h2"}, 30s)) << f.hosts().dump(2);
  ASSERT_TRUE(wait_until([&] { return peers_reachable(f.hosts(), {"h1", "h2"}); }, 30s)) << f.hosts().dump(2);

  const auto deployed_at = std::chrono::steady_clock::now();
  auto deployed =
      f.pier({"deploy", "--name", "web", "--image", "pier/demo-app", "--tag", kVersion, "--port",
              std::to_string(kPort) + ":8000", "--replicas", "4", "--health-path", "/healthz", "--timeout", "90"});
  ASSERT_EQ(deployed.exit_code, 0) << deployed.output << deployed.error << f.agent_log("h1") << f.agent_log("h2");
  report("docker fleet: 4 containers live on every host's HAProxy " + std::to_string(ms_since(deployed_at)) +
         " ms after the deploy");
  const auto ps = f.ps();
  const auto hosts = f.hosts();
  std::set<std::string> on;
  for (const auto& [id, ip] : instance_ips(ps, "web")) {
    for (const auto& h : hosts)
      if (in_subnet(ip, h["subnet"].get<std::string>())) on.insert(h["id"].get<std::string>());
  }
  EXPECT_EQ(on, (std::set<std::string>{"h1", "h2"})) << ps.dump(2);

  std::set<std::string> expected;
  for (const auto& [id, ip] : instance_ips(ps, "web")) expected.insert(id);
  for (const std::string via : {"h1", "h2"}) {
    const auto got = e2e::distinct(f.answers("client", address_of(via), kPort, 100));
    EXPECT_EQ(got, expected) << "through " << via;
  }
  // pier's rule is in DOCKER-USER (dockerd runs with iptables here), once.
  const auto rules = f.exec_in("h1", {"iptables", "-S", "DOCKER-USER"});
  EXPECT_NE(rules.output.find("--comment pier -j ACCEPT"), std::string::npos) << rules.output << rules.error;
  for (const std::string host : {"h1", "h2"}) f.stop_agent(host);
}

}  // namespace
}  // namespace pier::fleet
