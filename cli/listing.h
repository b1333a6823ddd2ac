// `pier ps` and `pier hosts` output: a table for people, JSON for scripts. Pure functions of the State.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "common/messages.h"

namespace pier::cli {

// Instances, optionally of one app (empty: all), in the state's order. JSON: an array of objects with
// keys id, app, host, ip, state, reason, pid, revision.
nlohmann::json instances_json(const msg::State& state, const std::string& app);
// Columns ID APP REV HOST IP STATE REASON; then a line per app with a rollout under way or failed.
std::string instances_table(const msg::State& state, const std::string& app);

// JSON: an array of objects with keys id, hostname, address, cpus, memory_bytes, runtime, subnet, status,
// last_seen_ms, lb {hash, servers, error, reloads}.
nlohmann::json hosts_json(const msg::State& state);
// Columns ID HOSTNAME ADDRESS CPUS MEMORY RUNTIME SUBNET STATUS SEEN LB; `now_ms` dates "SEEN".
std::string hosts_table(const msg::State& state, int64_t now_ms);

// Left-aligned columns separated by two spaces, header first; widths count UTF-8 characters.
std::string format_table(const std::vector<std::vector<std::string>>& rows);

// 67108864 -> "64m", 1610612736 -> "1.5g".
std::string format_bytes(int64_t bytes);

}  // namespace pier::cli
