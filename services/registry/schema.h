// The registry's SQLite schema, as numbered migrations (applied once each, in order, by store::open).
// Append new migrations; never edit one that has shipped.
#pragma once

#include <string>
#include <vector>

namespace pier::registry {

inline const std::vector<std::string>& migrations() {
  static const std::vector<std::string> kMigrations = {
      R"sql(
CREATE TABLE meta(
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT INTO meta(key, value) VALUES ('revision', 0), ('next_instance', 1);

CREATE TABLE hosts(
  id TEXT PRIMARY KEY,
  hostname TEXT NOT NULL DEFAULT '',
  address TEXT NOT NULL DEFAULT '',
  cpus INTEGER NOT NULL DEFAULT 0,
  memory_bytes INTEGER NOT NULL DEFAULT 0,
  runtime TEXT NOT NULL DEFAULT '',
  subnet TEXT NOT NULL UNIQUE,
  subnet_index INTEGER NOT NULL UNIQUE,
  haproxy_socket TEXT NOT NULL DEFAULT '',
  stats_port INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL DEFAULT 'up',
  lb BLOB,                                  -- msgpack LbStatus
  registered_ms INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE apps(
  name TEXT PRIMARY KEY,
  spec BLOB NOT NULL,                       -- msgpack AppSpec
  revision INTEGER NOT NULL,
  created_ms INTEGER NOT NULL
);

CREATE TABLE instances(
  id TEXT PRIMARY KEY,
  app TEXT NOT NULL REFERENCES apps(name) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  host TEXT NOT NULL DEFAULT '',
  ip TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL DEFAULT 'pending',
  reason TEXT NOT NULL DEFAULT '',
  pid INTEGER NOT NULL DEFAULT 0,
  updated_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX instances_app ON instances(app);
CREATE UNIQUE INDEX instances_ip ON instances(ip) WHERE ip != '';

-- Commands already applied, by request id, with the reply they got: a retried command is answered
-- again and applied once.
CREATE TABLE applied_requests(
  request_id TEXT PRIMARY KEY,
  topic TEXT NOT NULL,
  reply BLOB NOT NULL,                      -- msgpack Reply
  time_ms INTEGER NOT NULL
);
)sql",
      // Hosts that could not start an instance (comma-separated ids): it is placed elsewhere.
      R"sql(
ALTER TABLE instances ADD COLUMN failed_hosts TEXT NOT NULL DEFAULT '';
)sql",
      // Rolling redeploys: the revision each instance runs, earlier specs still run, the rollout.
      R"sql(
ALTER TABLE instances ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
UPDATE instances SET revision = (SELECT revision FROM apps WHERE apps.name = instances.app);
ALTER TABLE apps ADD COLUMN revisions BLOB;                -- msgpack {"revisions": [AppRevision]}
ALTER TABLE apps ADD COLUMN rollout BLOB;                  -- msgpack Rollout
)sql",
      // Fleets: each host's overlay end and which peers it reaches.
      R"sql(
ALTER TABLE hosts ADD COLUMN overlay BLOB;                 -- msgpack OverlayInfo
ALTER TABLE hosts ADD COLUMN peers BLOB;                   -- msgpack {"peers": [PeerReach]}
)sql",
      // The hosts that could not start an instance, a row each (they were comma-joined text).
      R"sql(
CREATE TABLE instance_failed_hosts(
  instance TEXT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  host TEXT NOT NULL,
  PRIMARY KEY(instance, position)
);
WITH RECURSIVE split(instance, position, host, rest) AS (
  SELECT id, -1, '', failed_hosts || ',' FROM instances WHERE failed_hosts != ''
  UNION ALL
  SELECT instance, position + 1, substr(rest, 1, instr(rest, ',') - 1), substr(rest, instr(rest, ',') + 1)
  FROM split WHERE rest != ''
)
INSERT INTO instance_failed_hosts(instance, position, host)
SELECT instance, position, host FROM split WHERE position >= 0 AND host != '';
ALTER TABLE instances DROP COLUMN failed_hosts;
)sql",
  };
  return kMigrations;
}

}  // namespace pier::registry
