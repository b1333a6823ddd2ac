// `pier why APP` and `pier autoscale APP --dry-run`: the autoscaler's reasons, read from pier-metrics'
// HTTP endpoint (GET /decisions, GET /autoscale/dry-run). Formatting is pure (tested without a server).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace pier::cli {

// 1700000000000 -> "2023-11-14 22:13:20Z" (UTC).
std::string format_utc(int64_t time_ms);
// `decisions`: the array of GET /decisions. Columns TIME CHANGE RULE WHY (WHY: the explanation without
// its "old -> new (rule): " head).
std::string decisions_table(const nlohmann::json& decisions);
// A GET /autoscale/dry-run answer, for people: the change, the reason, the inputs.
std::string dry_run_text(const nlohmann::json& answer);

int run_why(const std::vector<std::string>& args, const Io& io);
int run_autoscale(const std::vector<std::string>& args, const Io& io);

}  // namespace pier::cli
