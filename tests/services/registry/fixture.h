// What the registry's tests build on: a store (in memory, or a file to reopen), an app spec and a host's
// heartbeat that the registry accepts.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/messages.h"
#include "services/registry/sqlite_store.h"

namespace pier::registry {

inline std::unique_ptr<SqliteStore> open_store(const std::string& path = ":memory:") {
  auto store = SqliteStore::open(path);
  if (!store.ok()) ADD_FAILURE() << store.status().message();
  return store.ok() ? std::move(*store) : nullptr;
}

inline msg::AppSpec demo(const std::string& name = "web", int replicas = 3) {
  msg::AppSpec spec;
  spec.name = name;
  spec.image = "pier/demo-app";
  spec.tag = "0.1.0";
  spec.command = {"pier-demo-app"};
  spec.ports = {{8080, 8000}};
  spec.replicas = replicas;
  return spec;
}

inline msg::HostStatus host(const std::string& id) {
  msg::HostStatus h;
  h.host_id = id;
  h.hostname = id;
  h.address = "127.0.0.1";
  h.cpus = 4;
  h.memory_bytes = 8LL << 30;
  h.runtime = "exec";
  h.stats_port = 8404;
  return h;
}

}  // namespace pier::registry
