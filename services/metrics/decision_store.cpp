#include "services/metrics/decision_store.h"

#include <cmath>

namespace pier::metrics {
namespace {

nlohmann::json inputs_json(const std::map<std::string, double>& inputs) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, value] : inputs) out[name] = std::isfinite(value) ? nlohmann::json(value) : nlohmann::json();
  return out;
}

}  // namespace

nlohmann::json decision_json(const std::string& app, const Decision& d) {
  return {{"time_ms", d.time_ms},
          {"app", app},
          {"old", d.current},
          {"new", d.desired},
          {"rule", d.rule},
          {"inputs", inputs_json(d.inputs)},
          {"explanation", d.explanation}};
}

Status DecisionStore::insert(const std::string& app, const Decision& d) {
  try {
    SQLite::Statement q(db_,
                        "INSERT INTO decisions(time_ms, app, old, new, rule, inputs, explanation) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)");
    q.bind(1, d.time_ms);
    q.bind(2, app);
    q.bind(3, d.current);
    q.bind(4, d.desired);
    q.bind(5, d.rule);
    q.bind(6, inputs_json(d.inputs).dump());
    q.bind(7, d.explanation);
    q.exec();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::Error(std::string("cannot store decision: ") + e.what());
  }
}

Result<std::vector<AppDecision>> DecisionStore::since(int64_t since_ms) {
  try {
    SQLite::Statement q(db_,
                        "SELECT time_ms, app, old, new, rule, inputs, explanation FROM decisions "
                        "WHERE time_ms >= ? ORDER BY time_ms, rowid");
    q.bind(1, since_ms);
    std::vector<AppDecision> out;
    while (q.executeStep()) {
      AppDecision row;
      row.decision.time_ms = q.getColumn(0).getInt64();
      row.app = q.getColumn(1).getString();
      row.decision.current = q.getColumn(2).getInt();
      row.decision.desired = q.getColumn(3).getInt();
      row.decision.rule = q.getColumn(4).getString();
      const auto inputs = nlohmann::json::parse(q.getColumn(5).getString(), nullptr, /*allow_exceptions=*/false);
      if (inputs.is_object())
        for (const auto& [name, value] : inputs.items())
          row.decision.inputs[name] = value.is_number() ? value.get<double>() : std::nan("");
      row.decision.explanation = q.getColumn(6).getString();
      out.push_back(std::move(row));
    }
    return out;
  } catch (const std::exception& e) {
    return Status::Error(std::string("cannot read decisions: ") + e.what());
  }
}

Result<int64_t> DecisionStore::delete_before(int64_t cutoff_ms) {
  try {
    SQLite::Statement q(db_, "DELETE FROM decisions WHERE time_ms < ?");
    q.bind(1, cutoff_ms);
    return static_cast<int64_t>(q.exec());
  } catch (const std::exception& e) {
    return Status::Error(std::string("cannot delete old decisions: ") + e.what());
  }
}

}  // namespace pier::metrics
