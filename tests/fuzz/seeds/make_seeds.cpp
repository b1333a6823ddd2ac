// Writes the msgpack seeds of tests/fuzz/corpus/{codec,bus_header,validate}: real encoded messages of every
// type in common/messages.h, as pier's services publish them. Run again after a message changes:
//   g++ -std=c++20 -I. tests/fuzz/seeds/make_seeds.cpp -o /tmp/make_seeds && /tmp/make_seeds tests/fuzz/corpus
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>

#include "common/codec.h"
#include "common/messages.h"

namespace {

using namespace pier;
namespace fs = std::filesystem;

fs::path root;

void write(const std::string& target, const std::string& name, const std::string& bytes) {
  fs::create_directories(root / target);
  std::ofstream(root / target / name, std::ios::binary) << bytes;
}

msg::AppSpec full_spec() {
  msg::AppSpec spec;
  spec.name = "web";
  spec.image = "registry.local:5000/pier/demo-app";
  spec.tag = "0.1.0";
  spec.command = {"pier-demo-app", "--mode", "http"};
  spec.ports = {{8080, 8000}, {8443, 8001}};
  spec.replicas = 3;
  spec.cpu = 0.5;
  spec.memory_bytes = 128LL << 20;
  spec.env = {{"GREETING", "hello"}, {"EMPTY", ""}};
  spec.context_path = "/api";
  spec.algorithm = "leastconn";
  spec.health_path = "/healthz?full=1";
  spec.autoscale.enabled = true;
  spec.autoscale.targets = {{"cpu_percent", 60}, {"p95_latency_ms", 250}};
  spec.autoscale.timezone = "Europe/Berlin";
  spec.autoscale.schedule = {{{"mon", "fri"}, 8, 18, 2, 8}};
  return spec;
}

msg::HostStatus host_status() {
  msg::HostStatus s;
  s.host_id = "host-a";
  s.hostname = "host-a.example";
  s.address = "10.0.0.5";
  s.cpus = 8;
  s.memory_bytes = 16LL << 30;
  s.runtime = "exec";
  s.haproxy_socket = "/run/pier/host-a/haproxy.sock";
  s.stats_port = 9000;
  s.started_ms = 1'760'000'000'000;
  s.instances = {{"web-1", "web", "running", "127.100.1.2", 4242, 0, 1, "", false},
                 {"web-2", "web", "failed", "127.100.1.3", 0, 1, 3, "image pull failed", true}};
  s.lb = {"ab12cd", 17, {"web-1"}, "", 3, 9, {"web-1"}, true};
  s.overlay = {"vxlan", "10.0.0.5", "0a:1b:2c:3d:4e:5f", 4242, 4789, 1450, 7790};
  s.peers = {{"host-b", true, 310, ""}, {"host-c", false, 0, "connect timed out"}};
  return s;
}

msg::State state() {
  msg::State st;
  st.revision = 42;
  msg::HostRecord h;
  h.id = "host-a";
  h.address = "127.0.0.1";
  h.cpus = 4;
  h.memory_bytes = 8LL << 30;
  h.runtime = "exec";
  h.subnet = "127.100.1.0/24";
  h.haproxy_socket = "/run/pier/haproxy.sock";
  h.stats_port = 9000;
  h.status = "suspect";
  h.peers = {{"host-b", true, 120, ""}};
  st.hosts = {h};
  msg::AppRecord app;
  app.spec = full_spec();
  app.revision = 40;
  app.revisions = {{38, full_spec()}};
  app.rollout = {"rolling", 38, 40, "", 1000, 2000, 1};
  st.apps = {app};
  st.instances = {{"web-1", "web", "host-a", "127.100.1.2", "running", "", 4242, 1000, {}, 40},
                  {"web-2", "web", "", "", "pending", "no host with room", 0, 0, {"host-b"}, 38}};
  return st;
}

msg::LbConfig lb_config() {
  msg::LbConfig c;
  c.host_id = "host-a";
  c.state_revision = 42;
  c.hash = "9f86d081884c7d65";
  c.haproxy_cfg = "global\n    maxconn 2000\n\nfrontend fe_80\n    bind 127.0.0.1:80\n";
  c.spec.host_id = "host-a";
  c.spec.bind_address = "127.0.0.1";
  c.spec.stats_socket = "/run/pier/haproxy.sock";
  c.spec.stats_port = 9000;
  c.spec.frontends = {{"fe_80", 80, "http", {{"/api", "app_api_8000"}, {"/", "app_web_8000"}}}};
  msg::LbBackend be;
  be.name = "app_web_8000";
  be.app = "web";
  be.mode = "http";
  be.algorithm = "roundrobin";
  be.servers = {{"web-1", "127.100.1.2", 8000}};
  be.check_fastinter_ms = 200;
  be.request_log = true;
  c.spec.backends = {be};
  return c;
}

msg::HostSample host_sample() {
  msg::HostSample s;
  s.host_id = "host-a";
  s.time_ms = 1'760'000'000'000;
  s.cpu_percent = 37.5;
  s.memory_used_bytes = 3LL << 30;
  s.memory_total_bytes = 8LL << 30;
  s.load1 = 1.25;
  s.instances = {{"web-1", "web", 12.5, 50LL << 20}};
  msg::AppRequestSample a;
  a.app = "web";
  a.requests_per_second = 120.5;
  a.current_sessions = 4;
  a.responses_5xx = 2;
  a.avg_response_ms = 3;
  a.p95_latency_ms = 17;
  a.latency_samples = 240;
  a.servers = {{"web-1", 120.5, 4, 2}};
  s.apps = {a};
  return s;
}

msg::Header header(const std::string& sender, uint64_t seq, const std::string& request_id = {}) {
  msg::Header h;
  h.sender = sender;
  h.seq = seq;
  h.time_ms = 1'760'000'000'000;
  h.request_id = request_id;
  return h;
}

// A map with one key replaced by a value of the wrong type, as a hostile publisher sends it.
std::string deploy_with_memory(const std::string& memory) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> pk(buffer);
  pk.pack_map(1);
  pk.pack(std::string("app"));
  pk.pack_map(4);
  pk.pack(std::string("name"));
  pk.pack(std::string("web"));
  pk.pack(std::string("image"));
  pk.pack(std::string("pier/demo-app"));
  pk.pack(std::string("ports"));
  pk.pack(std::vector<msg::PortMapping>{{8080, 8000}});
  pk.pack(std::string("memory_bytes"));
  pk.pack(memory);
  return std::string(buffer.data(), buffer.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_seeds CORPUS_DIR\n";
    return 2;
  }
  root = argv[1];
  msg::DeployCommand deploy{full_spec()};
  msg::PlaceCommand place{42, {{"web-1", "host-a"}}, {{"web-2", "no host with room"}}};
  msg::Reply reply{"0123456789abcdef0123456789abcdef",
                   false,
                   "ports[0].external",
                   "must be between 1 and 65535",
                   "ports[0].external: must be between 1 and 65535",
                   42};
  msg::AppMetrics metrics{"web", 1'760'000'000'000, 3, 45.5, 120, 17, 3, 3};
  msg::AutoscaleDecision decision{
      "web", 1'760'000'000'000, 3, 5, "up-window", {{"cpu_percent", 91}, {"target", 60}}, "cpu 91% > 60%"};
  const std::vector<std::pair<std::string, std::string>> messages = {
      {"header", codec::encode(header("cli-1234-ab12cd34", 1, "0123456789abcdef0123456789abcdef"))},
      {"app_spec", codec::encode(full_spec())},
      {"deploy", codec::encode(deploy)},
      {"scale", codec::encode(msg::ScaleCommand{"web", 5, {"web-3", "web-1"}})},
      {"remove", codec::encode(msg::RemoveCommand{"web"})},
      {"place", codec::encode(place)},
      {"snapshot", codec::encode(msg::SnapshotRequest{"gap"})},
      {"reply", codec::encode(reply)},
      {"state", codec::encode(state())},
      {"host_status", codec::encode(host_status())},
      {"host_sample", codec::encode(host_sample())},
      {"lb_config", codec::encode(lb_config())},
      {"app_metrics", codec::encode(metrics)},
      {"decision", codec::encode(decision)},
      {"deploy_memory_lots", deploy_with_memory("lots")},
  };
  // codec_fuzz.cpp's kTypes: the first byte picks the type.
  const std::map<std::string, char> type_of = {
      {"header", 0},       {"app_spec", 1},   {"deploy", 2},       {"scale", 3},     {"remove", 4},
      {"place", 5},        {"snapshot", 6},   {"reply", 7},        {"state", 8},     {"host_status", 9},
      {"host_sample", 10}, {"lb_config", 11}, {"app_metrics", 12}, {"decision", 13}, {"deploy_memory_lots", 2}};
  for (const auto& [name, bytes] : messages) write("codec", name, type_of.at(name) + bytes);
  // validate_fuzz.cpp: 0 an AppSpec, then its kChecks in order.
  write("validate", "app_spec", '\0' + codec::encode(full_spec()));
  msg::AppSpec tcp = full_spec();
  tcp.protocol = "tcp";
  tcp.context_path = "/";
  tcp.health_path = "/";
  tcp.proxy_protocol = true;
  tcp.algorithm = "source";
  write("validate", "app_spec_tcp", '\0' + codec::encode(tcp));
  const std::vector<std::pair<std::string, std::string>> values = {{"dns_label", "web-01"},
                                                                   {"image", "registry.local:5000/pier/demo-app"},
                                                                   {"tag", "v1.2.3_rc-1"},
                                                                   {"context_path", "/api/v1;x=1"},
                                                                   {"health_path", "/healthz?full=1"},
                                                                   {"env_key", "GREETING"},
                                                                   {"env_value", "s3cr=t $x"},
                                                                   {"ipv4", "10.0.0.5"},
                                                                   {"mac", "0a:1b:2c:3d:4e:5f"},
                                                                   {"time_zone", "Europe/Berlin"},
                                                                   {"memory", "1.5g"},
                                                                   {"cpu", "0.25"},
                                                                   {"int", "-42"},
                                                                   {"port_mapping", "8080:80"},
                                                                   {"env", "GREETING=hello=world"}};
  for (std::size_t i = 0; i < values.size(); ++i)
    write("validate", values[i].first, static_cast<char>(i + 1) + values[i].second);
  const std::string split("\xff\x00", 2);
  write("bus_header", "deploy", "cmd.deploy" + split + messages[0].second + split + codec::encode(deploy));
  write("bus_header", "heartbeat",
        "agent.heartbeat.host-a" + split + codec::encode(header("agent/host-a", 7)) + split +
            codec::encode(host_status()));
  write("bus_header", "state",
        "state.full" + split + codec::encode(header("registry", 99)) + split + codec::encode(state()));
  return 0;
}
