#include "cli/listing.h"

#include <gtest/gtest.h>

#include "common/lb_summary.h"

namespace pier::cli {
namespace {

msg::State sample_state() {
  msg::State s;
  msg::InstanceRecord a;
  a.id = "web-1";
  a.app = "web";
  a.host = "host-a";
  a.ip = "127.100.1.1";
  a.state = "running";
  a.pid = 42;
  msg::InstanceRecord b;
  b.id = "api-2";
  b.app = "api";
  b.state = "pending";
  b.reason = "no host is up";
  s.instances = {a, b};
  msg::HostRecord h;
  h.id = "host-a";
  h.hostname = "vm";
  h.address = "127.0.0.1";
  h.cpus = 4;
  h.memory_bytes = 8LL << 30;
  h.runtime = "exec";
  h.subnet = "127.100.1.0/24";
  h.last_seen_ms = 1000;
  h.lb.hash = "abcdef0123456789";
  h.lb.servers = {"web-1"};
  h.lb.reloads = 2;
  h.lb.runtime_updates = 5;
  s.hosts = {h};
  return s;
}

TEST(Listing, InstancesJsonHasTheDocumentedKeys) {
  auto json = instances_json(sample_state(), "");
  ASSERT_TRUE(json.is_array());
  ASSERT_EQ(json.size(), 2u);
  EXPECT_EQ(json[0], nlohmann::json({{"id", "web-1"},
                                     {"app", "web"},
                                     {"host", "host-a"},
                                     {"ip", "127.100.1.1"},
                                     {"state", "running"},
                                     {"reason", ""},
                                     {"pid", 42},
                                     {"revision", 0},
                                     {"unreachable_from", nlohmann::json::array()}}));
  EXPECT_EQ(instances_json(sample_state(), "api").size(), 1u);
  EXPECT_TRUE(instances_json(msg::State{}, "").is_array());
}

TEST(Listing, InstancesTableAlignsColumns) {
  EXPECT_EQ(instances_table(sample_state(), ""),
            "ID     APP  REV  HOST    IP           STATE    REASON\n"
            "web-1  web  -    host-a  127.100.1.1  running  \n"
            "api-2  api  -    -       -            pending  no host is up\n");
}

TEST(Listing, InstancesTableSaysWhyARolloutWasRolledBack) {
  msg::State s = sample_state();
  s.instances.resize(1);
  s.instances[0].revision = 4;
  msg::AppRecord web;
  web.spec.name = "web";
  web.revision = 4;
  web.rollout.state = "rolled_back";
  web.rollout.from_revision = 7;
  web.rollout.to_revision = 4;
  web.rollout.reason = "revision 7: instance web-9 not healthy within 60 s (starting)";
  s.apps = {web};
  EXPECT_EQ(instances_table(s, "web"),
            "ID     APP  REV  HOST    IP           STATE    REASON\n"
            "web-1  web  4    host-a  127.100.1.1  running  \n"
            "web: rolled back to revision 4: revision 7: instance web-9 not healthy within 60 s (starting)\n");
}

TEST(Listing, HostsJsonHasTheDocumentedKeys) {
  auto json = hosts_json(sample_state());
  ASSERT_EQ(json.size(), 1u);
  for (const char* key : {"id", "hostname", "address", "cpus", "memory_bytes", "runtime", "subnet", "status",
                          "last_seen_ms", "lb", "overlay", "peers"})
    EXPECT_TRUE(json[0].contains(key)) << key;
  EXPECT_EQ(json[0]["lb"], nlohmann::json({{"hash", "abcdef0123456789"},
                                           {"servers", {"web-1"}},
                                           {"error", ""},
                                           {"reloads", 2},
                                           {"runtime_updates", 5},
                                           {"servers_up", nlohmann::json::array()},
                                           {"reports_servers_up", false},
                                           {"apps",
                                            {{{"app", "web"},
                                              {"listed", 1},
                                              {"up", 0},
                                              {"digest", lb::servers_digest({"web-1"})},
                                              {"down", nlohmann::json::array()}}}}}));
  EXPECT_EQ(json[0]["memory_bytes"], 8LL << 30);
  msg::State wire = sample_state();
  wire.hosts[0].lb = lb::for_wire(wire.hosts[0].lb);
  EXPECT_EQ(hosts_json(wire)[0]["lb"]["apps"], json[0]["lb"]["apps"]) << "this version's agents: the same apps";
  EXPECT_EQ(hosts_json(wire)[0]["lb"]["servers"], nlohmann::json::array());
}

TEST(Listing, HostsTable) {
  const std::string table = hosts_table(sample_state(), 4500);
  EXPECT_NE(
      table.find("host-a  vm        127.0.0.1  4     8g      exec     127.100.1.0/24  -        -      up      3s ago  "
                 "1 servers, cfg abcdef01"),
      std::string::npos)
      << table;
}

TEST(Listing, HostsListTheRefusedOnesWithWhy) {
  msg::State s = sample_state();
  s.refused_hosts = {{"host-z", "", "no subnet left for a new host", 1500, 3500}};
  const std::string table = hosts_table(s, 4500);
  EXPECT_NE(table.find("refused: host-z (for 3s, last heard 1s ago): no subnet left for a new host\n"),
            std::string::npos)
      << table;
  auto json = hosts_json(s);
  ASSERT_EQ(json.size(), 2u);
  EXPECT_EQ(json[1], nlohmann::json({{"id", "host-z"},
                                     {"status", "refused"},
                                     {"field", ""},
                                     {"reason", "no subnet left for a new host"},
                                     {"since_ms", 1500},
                                     {"last_seen_ms", 3500}}));
}

TEST(Listing, HostsAndInstancesShowTheOverlayAndWhatAHostCannotReach) {
  msg::State s = sample_state();
  s.instances.resize(1);
  msg::HostRecord& a = s.hosts[0];
  a.overlay = {"vxlan", "10.77.1.11", "0a:1b:2c:3d:4e:5f", 1, 4789, 1450, 7709};
  a.peers = {{"host-b", false, 0, "connect timed out after 500 ms"}};
  a.lb.reports_servers_up = true;
  msg::HostRecord b = a;
  b.id = "host-b";
  b.peers = {{"host-a", true, 210, ""}};
  b.lb.servers_up = {"web-1"};
  s.hosts.push_back(b);
  const std::string hosts = hosts_table(s, 4500);
  EXPECT_NE(hosts.find("vxlan    0/1 reached (host-b: connect timed out after 500 ms)"), std::string::npos) << hosts;
  EXPECT_NE(hosts.find("vxlan    1/1 reached"), std::string::npos) << hosts;
  EXPECT_NE(hosts.find("overlay fault: host-a's HAProxy finds web-1 (on host-a) down; host-b finds it up\n"),
            std::string::npos)
      << hosts;
  EXPECT_EQ(hosts_json(s)[1]["peers"][0],
            nlohmann::json({{"host", "host-a"}, {"reachable", true}, {"rtt_us", 210}, {"error", ""}}));
  EXPECT_EQ(instances_json(s, "web")[0]["unreachable_from"], nlohmann::json({"host-a"}));
  EXPECT_NE(instances_table(s, "web").find("overlay fault: host-a's HAProxy"), std::string::npos);
}

TEST(Listing, TableWidthCountsCharactersNotBytes) {
  EXPECT_EQ(format_table({{"A", "B"}, {"\u2714x", "y"}}), "A   B\n\u2714x  y\n");
}

TEST(Listing, FormatBytes) {
  EXPECT_EQ(format_bytes(64LL << 20), "64m");
  EXPECT_EQ(format_bytes(1536LL << 20), "1.5g");
  EXPECT_EQ(format_bytes(100), "100");
}

}  // namespace
}  // namespace pier::cli
