// The registry's Store seam: the SQLite store's rows round-trip and migrate, and the registry, whatever
// store it is given, changes memory only when the store committed.
#include "services/registry/store.h"

#include <gtest/gtest.h>

#include "common/codec.h"
#include "common/store.h"
#include "services/registry/registry.h"
#include "services/registry/schema.h"
#include "tests/services/registry/fixture.h"

namespace pier::registry {
namespace {

TEST(SqliteStoreTest, RecordsComeBackAsTheyWereCommitted) {
  auto store = open_store();
  Changes changes;
  changes.revision = 7;
  changes.next_instance = 3;
  changes.time_ms = 1000;
  StoredHost h1;
  h1.record.id = "h1";
  h1.record.subnet = "127.100.0.0/24";
  h1.record.status = states::host::kSuspect;
  h1.record.lb.hash = "abc";
  h1.record.peers = {{"h2", true, 120, ""}};
  h1.subnet_index = 4;
  changes.hosts["h1"] = h1;
  msg::AppRecord app;
  app.spec = demo("web", 2);
  app.revision = 5;
  app.revisions = {{3, demo("web", 1)}};
  app.rollout.state = states::rollout::kRolling;
  changes.apps["web"] = app;
  msg::InstanceRecord web2;
  web2.id = "web-2";
  web2.app = "web";
  web2.host = "h1";
  web2.ip = "127.100.0.2";
  web2.state = states::instance::kRunning;
  web2.failed_hosts = {"h3", "h2"};
  web2.revision = 5;
  changes.instances["web-2"] = web2;
  changes.request = AppliedRequest{"req-1", "cmd.deploy", {}};
  ASSERT_TRUE(store->commit(changes).ok());

  auto loaded = store->load();
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->state.revision, 7);
  EXPECT_EQ(loaded->next_instance, 3);
  EXPECT_EQ(loaded->subnet_index.at("h1"), 4);
  ASSERT_EQ(loaded->state.hosts.size(), 1u);
  EXPECT_EQ(codec::encode(loaded->state.hosts[0]), codec::encode(h1.record));
  ASSERT_EQ(loaded->state.apps.size(), 1u);
  EXPECT_EQ(codec::encode(loaded->state.apps[0]), codec::encode(app));
  ASSERT_EQ(loaded->state.instances.size(), 1u);
  EXPECT_EQ(codec::encode(loaded->state.instances[0]), codec::encode(web2));
  auto reply = store->applied_reply("req-1");
  ASSERT_TRUE(reply.ok());
  EXPECT_TRUE(reply->has_value());
  EXPECT_FALSE(store->applied_reply("req-2")->has_value());

  Changes gone;
  gone.revision = 8;
  gone.next_instance = 3;
  gone.apps["web"] = std::nullopt;
  gone.instances["web-2"] = std::nullopt;
  ASSERT_TRUE(store->commit(gone).ok());
  EXPECT_TRUE(store->load()->state.instances.empty());
  EXPECT_EQ(store->db().execAndGet("SELECT COUNT(*) FROM instance_failed_hosts").getInt(), 0)
      << "an instance's failed hosts go with it";
}

TEST(SqliteStoreTest, CommaJoinedFailedHostsMigrateToRows) {
  const auto path = std::filesystem::temp_directory_path() / ("pier-store-migrate-" + std::to_string(::getpid()));
  std::filesystem::remove(path);
  {
    const std::vector<std::string> before(migrations().begin(), migrations().begin() + 4);
    auto db = store::open(path.string(), before);
    db->exec("INSERT INTO apps(name, spec, revision, created_ms) VALUES ('web', x'80', 1, 0)");
    db->exec(
        "INSERT INTO instances(id, app, seq, failed_hosts) VALUES ('web-1', 'web', 1, 'h1,h2'), "
        "('web-2', 'web', 2, ''), ('web-3', 'web', 3, 'h9')");
  }
  auto store = open_store(path.string());
  auto loaded = store->load();
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  ASSERT_EQ(loaded->state.instances.size(), 3u);
  EXPECT_EQ(loaded->state.instances[0].failed_hosts, (std::vector<std::string>{"h1", "h2"}));
  EXPECT_TRUE(loaded->state.instances[1].failed_hosts.empty());
  EXPECT_EQ(loaded->state.instances[2].failed_hosts, std::vector<std::string>{"h9"});
  std::filesystem::remove(path);
}

// A store that commits through the SQLite one unless told to fail, and keeps what it was asked.
class FlakyStore final : public Store {
 public:
  Result<Snapshot> load() override { return inner_->load(); }
  Status commit(const Changes& changes) override {
    committed.push_back(changes);
    if (fail) return Status::Error("store unreachable");
    return inner_->commit(changes);
  }
  Result<std::optional<msg::Reply>> applied_reply(const std::string& request_id) override {
    return inner_->applied_reply(request_id);
  }
  Status forget_requests_before(int64_t time_ms) override { return inner_->forget_requests_before(time_ms); }

  bool fail = false;
  std::vector<Changes> committed;

 private:
  std::unique_ptr<SqliteStore> inner_ = open_store();
};

class RegistryOnAStoreTest : public ::testing::Test {
 protected:
  static msg::AppSpec api() {
    msg::AppSpec spec = demo("api", 3);
    spec.ports = {{8081, 8000}};
    return spec;
  }
  ManualClock clock;
  FlakyStore store;
  Registry reg{store, clock, Config{}};
};

TEST_F(RegistryOnAStoreTest, ACommitThatFailsChangesNothingAndIsNotRemembered) {
  ASSERT_TRUE(reg.heartbeat(host("h1")).ok());
  ASSERT_TRUE(reg.deploy("a", {demo("web", 2)}).ok);
  const std::string before = codec::encode(reg.state());
  store.fail = true;
  const auto refused = reg.deploy("b", {api()});
  EXPECT_FALSE(refused.ok);
  EXPECT_NE(refused.message.find("store unreachable"), std::string::npos) << refused.message;
  EXPECT_EQ(codec::encode(reg.state()), before) << "memory is what the store holds";
  auto h1 = host("h1");
  h1.cpus = 8;
  EXPECT_FALSE(reg.heartbeat(h1).ok());
  EXPECT_EQ(codec::encode(reg.state()), before);
  store.fail = false;
  const auto applied = reg.deploy("b", {api()});
  ASSERT_TRUE(applied.ok) << "the failed attempt was not recorded: the retry is judged again";
  EXPECT_EQ(applied.revision, reg.state().revision);
  EXPECT_EQ(reg.state().apps.size(), 2u);
  EXPECT_EQ(reg.state().instances[2].id, "api-3") << "the serials the failed attempt drew are drawn again";
  Registry reopened{store, clock, Config{}};
  msg::State in_memory = reg.state();
  for (auto& h : in_memory.hosts) h.last_seen_ms = 0;  // memory only
  EXPECT_EQ(codec::encode(reopened.state()), codec::encode(in_memory)) << "apps in the order they were deployed";
}

TEST_F(RegistryOnAStoreTest, CommandsAreCommittedDurablyHeartbeatsAreNot) {
  ASSERT_TRUE(reg.heartbeat(host("h1")).ok());
  ASSERT_TRUE(reg.deploy("a", {demo("web", 1)}).ok);
  ASSERT_EQ(store.committed.size(), 2u);
  EXPECT_FALSE(store.committed[0].durable) << "a heartbeat";
  EXPECT_TRUE(store.committed[1].durable) << "a command: its reply promises it";
  ASSERT_TRUE(store.committed[1].request.has_value());
  EXPECT_EQ(store.committed[1].request->reply.revision, store.committed[1].revision);
  EXPECT_EQ(store.committed[1].instances.size(), 1u) << "only the records it touched";
  EXPECT_TRUE(store.committed[1].hosts.empty());
}

TEST_F(RegistryOnAStoreTest, AHeartbeatThatChangesNothingCommitsNothing) {
  ASSERT_TRUE(reg.heartbeat(host("h1")).ok());
  const auto commits = store.committed.size();
  auto unchanged = reg.heartbeat(host("h1"));
  ASSERT_TRUE(unchanged.ok());
  EXPECT_FALSE(*unchanged);
  EXPECT_EQ(store.committed.size(), commits);
}

}  // namespace
}  // namespace pier::registry
