#include "services/metrics/sample_store.h"

#include <algorithm>

#include "common/store.h"

namespace pier::metrics {

const std::vector<std::string>& migrations() {
  static const std::vector<std::string> kMigrations = {
      R"sql(
CREATE TABLE host_samples(
  host TEXT NOT NULL,
  time_ms INTEGER NOT NULL,          -- received, pier-metrics' wall clock
  sample_ms INTEGER NOT NULL,        -- taken, the agent's wall clock
  cpu_percent REAL NOT NULL,
  memory_used INTEGER NOT NULL,
  memory_total INTEGER NOT NULL,
  load1 REAL NOT NULL
);
CREATE INDEX host_samples_time ON host_samples(time_ms);
CREATE INDEX host_samples_host_time ON host_samples(host, time_ms);

CREATE TABLE instance_samples(
  host TEXT NOT NULL,
  instance TEXT NOT NULL,
  app TEXT NOT NULL,
  time_ms INTEGER NOT NULL,
  cpu_percent REAL NOT NULL,
  rss_bytes INTEGER NOT NULL
);
CREATE INDEX instance_samples_time ON instance_samples(time_ms);
CREATE INDEX instance_samples_app_time ON instance_samples(app, time_ms);
)sql",
      R"sql(
CREATE TABLE decisions(
  time_ms INTEGER NOT NULL,          -- pier-metrics' wall clock
  app TEXT NOT NULL,
  old INTEGER NOT NULL,              -- replicas when deciding
  new INTEGER NOT NULL,              -- replicas decided (= old: a hold)
  rule TEXT NOT NULL,
  inputs TEXT NOT NULL,              -- JSON object, name -> number
  explanation TEXT NOT NULL
);
CREATE INDEX decisions_time ON decisions(time_ms);
CREATE INDEX decisions_app_time ON decisions(app, time_ms);
)sql",
      R"sql(
CREATE TABLE host_minutes(
  host TEXT NOT NULL,
  minute_ms INTEGER NOT NULL,        -- start of the minute of receipt (time_ms floored to 60 000)
  count INTEGER NOT NULL,            -- raw rows folded in
  cpu_avg REAL NOT NULL,
  cpu_max REAL NOT NULL,
  memory_used_avg REAL NOT NULL,
  memory_used_max INTEGER NOT NULL,
  memory_total_max INTEGER NOT NULL,
  load1_avg REAL NOT NULL,
  load1_max REAL NOT NULL,
  PRIMARY KEY(host, minute_ms)
);
CREATE INDEX host_minutes_minute ON host_minutes(minute_ms);

CREATE TABLE instance_minutes(
  host TEXT NOT NULL,
  instance TEXT NOT NULL,
  app TEXT NOT NULL,
  minute_ms INTEGER NOT NULL,
  count INTEGER NOT NULL,
  cpu_avg REAL NOT NULL,
  cpu_max REAL NOT NULL,
  rss_avg REAL NOT NULL,
  rss_max INTEGER NOT NULL,
  PRIMARY KEY(host, instance, minute_ms)
);
CREATE INDEX instance_minutes_minute ON instance_minutes(minute_ms);
CREATE INDEX instance_minutes_app_minute ON instance_minutes(app, minute_ms);
)sql",
  };
  return kMigrations;
}

Result<std::unique_ptr<SampleStore>> SampleStore::open(const std::string& path, Retention retention) {
  try {
    auto db = store::open(path, migrations());
    // Samples are history, not commands: losing the last second of them in a power cut is fine, and
    // NORMAL in WAL mode still never corrupts the file. It spares an fsync per sample.
    db->exec("PRAGMA synchronous=NORMAL");
    return std::make_unique<SampleStore>(std::move(db), retention);
  } catch (const std::exception& e) {
    return Status::Error("cannot open metrics database " + path + ": " + e.what());
  }
}

Status SampleStore::insert(const msg::HostSample& sample, int64_t time_ms) {
  try {
    SQLite::Transaction tx(*db_);
    SQLite::Statement host(*db_,
                           "INSERT INTO host_samples(host, time_ms, sample_ms, cpu_percent, memory_used, "
                           "memory_total, load1) VALUES (?, ?, ?, ?, ?, ?, ?)");
    host.bind(1, sample.host_id);
    host.bind(2, time_ms);
    host.bind(3, sample.time_ms);
    host.bind(4, sample.cpu_percent);
    host.bind(5, sample.memory_used_bytes);
    host.bind(6, sample.memory_total_bytes);
    host.bind(7, sample.load1);
    host.exec();
    SQLite::Statement instance(*db_,
                               "INSERT INTO instance_samples(host, instance, app, time_ms, cpu_percent, rss_bytes) "
                               "VALUES (?, ?, ?, ?, ?, ?)");
    for (const auto& i : sample.instances) {
      instance.bind(1, sample.host_id);
      instance.bind(2, i.id);
      instance.bind(3, i.app);
      instance.bind(4, time_ms);
      instance.bind(5, i.cpu_percent);
      instance.bind(6, i.rss_bytes);
      instance.exec();
      instance.reset();
    }
    tx.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::Error(std::string("cannot store sample: ") + e.what());
  }
}

// Folding happens as rows age, so each call reads only the rows it deletes. A minute the cutoff cuts in
// two is folded in two calls: the second merges into the first's row (averages weighted by count), so
// the aggregate ends up what one pass over the whole minute would have made.
Result<int64_t> SampleStore::delete_before(int64_t cutoff_ms) {
  try {
    SQLite::Transaction tx(*db_);
    SQLite::Statement fold_hosts(*db_, R"sql(
INSERT INTO host_minutes(host, minute_ms, count, cpu_avg, cpu_max, memory_used_avg, memory_used_max,
                         memory_total_max, load1_avg, load1_max)
SELECT host, (time_ms / 60000) * 60000, COUNT(*), AVG(cpu_percent), MAX(cpu_percent), AVG(memory_used),
       MAX(memory_used), MAX(memory_total), AVG(load1), MAX(load1)
FROM host_samples WHERE time_ms < ? GROUP BY host, time_ms / 60000
ON CONFLICT(host, minute_ms) DO UPDATE SET
  count = count + excluded.count,
  cpu_avg = (cpu_avg * count + excluded.cpu_avg * excluded.count) / (count + excluded.count),
  cpu_max = MAX(cpu_max, excluded.cpu_max),
  memory_used_avg = (memory_used_avg * count + excluded.memory_used_avg * excluded.count) / (count + excluded.count),
  memory_used_max = MAX(memory_used_max, excluded.memory_used_max),
  memory_total_max = MAX(memory_total_max, excluded.memory_total_max),
  load1_avg = (load1_avg * count + excluded.load1_avg * excluded.count) / (count + excluded.count),
  load1_max = MAX(load1_max, excluded.load1_max)
)sql");
    fold_hosts.bind(1, cutoff_ms);
    fold_hosts.exec();
    SQLite::Statement fold_instances(*db_, R"sql(
INSERT INTO instance_minutes(host, instance, app, minute_ms, count, cpu_avg, cpu_max, rss_avg, rss_max)
SELECT host, instance, MAX(app), (time_ms / 60000) * 60000, COUNT(*), AVG(cpu_percent), MAX(cpu_percent),
       AVG(rss_bytes), MAX(rss_bytes)
FROM instance_samples WHERE time_ms < ? GROUP BY host, instance, time_ms / 60000
ON CONFLICT(host, instance, minute_ms) DO UPDATE SET
  count = count + excluded.count,
  cpu_avg = (cpu_avg * count + excluded.cpu_avg * excluded.count) / (count + excluded.count),
  cpu_max = MAX(cpu_max, excluded.cpu_max),
  rss_avg = (rss_avg * count + excluded.rss_avg * excluded.count) / (count + excluded.count),
  rss_max = MAX(rss_max, excluded.rss_max)
)sql");
    fold_instances.bind(1, cutoff_ms);
    fold_instances.exec();

    SQLite::Statement hosts(*db_, "DELETE FROM host_samples WHERE time_ms < ?");
    hosts.bind(1, cutoff_ms);
    int64_t deleted = hosts.exec();
    SQLite::Statement instances(*db_, "DELETE FROM instance_samples WHERE time_ms < ?");
    instances.bind(1, cutoff_ms);
    deleted += instances.exec();

    // now - aggregate retention, from cutoff = now - raw retention.
    const int64_t aggregate_cutoff = cutoff_ms - std::max<int64_t>(0, retention_.aggregate_ms - retention_.raw_ms);
    for (const char* sql :
         {"DELETE FROM host_minutes WHERE minute_ms <= ?", "DELETE FROM instance_minutes WHERE minute_ms <= ?"}) {
      SQLite::Statement minutes(*db_, sql);
      minutes.bind(1, aggregate_cutoff - kMinuteMs);  // the whole minute is older than the cutoff
      minutes.exec();
    }
    tx.commit();
    return deleted;
  } catch (const std::exception& e) {
    return Status::Error(std::string("cannot delete old samples: ") + e.what());
  }
}

namespace {

// The columns of an InstanceRow, in its order, and a row of them decoded.
constexpr const char* kInstanceColumns = "SELECT host, instance, app, time_ms, cpu_percent, rss_bytes";
InstanceRow instance_row(SQLite::Statement& q) {
  return {q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getString(),
          q.getColumn(3).getInt64(),  q.getColumn(4).getDouble(), q.getColumn(5).getInt64()};
}

}  // namespace

Result<std::vector<HostRow>> SampleStore::host_rows(const std::string& host, int64_t since_ms) {
  try {
    SQLite::Statement q(*db_,
                        "SELECT host, time_ms, sample_ms, cpu_percent, memory_used, memory_total, load1 "
                        "FROM host_samples WHERE host = ? AND time_ms >= ? ORDER BY time_ms, rowid");
    q.bind(1, host);
    q.bind(2, since_ms);
    std::vector<HostRow> rows;
    while (q.executeStep()) {
      rows.push_back({q.getColumn(0).getString(), q.getColumn(1).getInt64(), q.getColumn(2).getInt64(),
                      q.getColumn(3).getDouble(), q.getColumn(4).getInt64(), q.getColumn(5).getInt64(),
                      q.getColumn(6).getDouble()});
    }
    return rows;
  } catch (const std::exception& e) {
    return Status::Error(std::string("cannot read host samples: ") + e.what());
  }
}

Result<std::vector<InstanceRow>> SampleStore::instance_rows(const std::string& app, int64_t since_ms) {
  try {
    SQLite::Statement q(*db_, std::string(kInstanceColumns) +
                                  " FROM instance_samples "
                                  "WHERE app = ? AND time_ms >= ? ORDER BY time_ms, instance, rowid");
    q.bind(1, app);
    q.bind(2, since_ms);
    std::vector<InstanceRow> rows;
    while (q.executeStep()) rows.push_back(instance_row(q));
    return rows;
  } catch (const std::exception& e) {
    return Status::Error(std::string("cannot read instance samples: ") + e.what());
  }
}

Result<std::vector<InstanceRow>> SampleStore::instance_rows_since(int64_t since_ms) {
  try {
    SQLite::Statement q(*db_, std::string(kInstanceColumns) +
                                  " FROM instance_samples "
                                  "WHERE time_ms >= ? ORDER BY time_ms, host, instance, rowid");
    q.bind(1, since_ms);
    std::vector<InstanceRow> rows;
    while (q.executeStep()) rows.push_back(instance_row(q));
    return rows;
  } catch (const std::exception& e) {
    return Status::Error(std::string("cannot read instance samples: ") + e.what());
  }
}

Result<std::vector<HostMinute>> SampleStore::host_minutes(const std::string& host, int64_t since_ms) {
  try {
    SQLite::Statement q(*db_,
                        "SELECT host, minute_ms, count, cpu_avg, cpu_max, memory_used_avg, memory_used_max, "
                        "memory_total_max, load1_avg, load1_max FROM host_minutes WHERE host = ? AND minute_ms >= ? "
                        "ORDER BY minute_ms");
    q.bind(1, host);
    q.bind(2, since_ms);
    std::vector<HostMinute> rows;
    while (q.executeStep()) {
      rows.push_back({q.getColumn(0).getString(), q.getColumn(1).getInt64(), q.getColumn(2).getInt64(),
                      q.getColumn(3).getDouble(), q.getColumn(4).getDouble(), q.getColumn(5).getDouble(),
                      q.getColumn(6).getInt64(), q.getColumn(7).getInt64(), q.getColumn(8).getDouble(),
                      q.getColumn(9).getDouble()});
    }
    return rows;
  } catch (const std::exception& e) {
    return Status::Error(std::string("cannot read host aggregates: ") + e.what());
  }
}

Result<std::vector<InstanceMinute>> SampleStore::instance_minutes(const std::string& app, int64_t since_ms) {
  try {
    SQLite::Statement q(*db_,
                        "SELECT host, instance, app, minute_ms, count, cpu_avg, cpu_max, rss_avg, rss_max "
                        "FROM instance_minutes WHERE app = ? AND minute_ms >= ? ORDER BY minute_ms, host, instance");
    q.bind(1, app);
    q.bind(2, since_ms);
    std::vector<InstanceMinute> rows;
    while (q.executeStep()) {
      rows.push_back({q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getString(),
                      q.getColumn(3).getInt64(), q.getColumn(4).getInt64(), q.getColumn(5).getDouble(),
                      q.getColumn(6).getDouble(), q.getColumn(7).getDouble(), q.getColumn(8).getInt64()});
    }
    return rows;
  } catch (const std::exception& e) {
    return Status::Error(std::string("cannot read instance aggregates: ") + e.what());
  }
}

}  // namespace pier::metrics
