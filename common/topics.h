// Topic names: the first frame of every message. Dot-separated so that prefix subscription routes.
#pragma once

#include <string>
#include <string_view>

namespace pier::topic {

inline constexpr std::string_view kDeploy = "cmd.deploy";      // DeployCommand
inline constexpr std::string_view kScale = "cmd.scale";        // ScaleCommand
inline constexpr std::string_view kRemove = "cmd.rm";          // RemoveCommand
inline constexpr std::string_view kPlace = "cmd.place";        // PlaceCommand (scheduler)
inline constexpr std::string_view kSnapshot = "cmd.snapshot";  // SnapshotRequest
inline constexpr std::string_view kCommandPrefix = "cmd.";

inline constexpr std::string_view kStateFull = "state.full";    // State
inline constexpr std::string_view kStateDelta = "state.delta";  // StateDelta
inline constexpr std::string_view kStatePrefix = "state.";

inline constexpr std::string_view kHeartbeatPrefix = "agent.heartbeat.";  // HostStatus
inline constexpr std::string_view kSamplePrefix = "agent.sample.";        // HostSample
inline constexpr std::string_view kLbConfigPrefix = "lb.config.";         // LbConfig
inline constexpr std::string_view kLbSpec = "lb.spec";                    // LbSpecUpdate
inline constexpr std::string_view kLbResyncPrefix = "lb.resync.";         // LbSpecRequest

inline constexpr std::string_view kReplyPrefix = "reply.";  // Reply

inline constexpr std::string_view kMetricsPrefix = "metrics.";
inline constexpr std::string_view kAppMetricsPrefix = "metrics.app.";     // AppMetrics
inline constexpr std::string_view kDecisionPrefix = "metrics.decision.";  // AutoscaleDecision

inline std::string reply_to(std::string_view sender) { return std::string(kReplyPrefix) + std::string(sender); }
inline std::string heartbeat(std::string_view host) { return std::string(kHeartbeatPrefix) + std::string(host); }
inline std::string sample(std::string_view host) { return std::string(kSamplePrefix) + std::string(host); }
inline std::string lb_config(std::string_view host) { return std::string(kLbConfigPrefix) + std::string(host); }
inline std::string lb_resync(std::string_view host) { return std::string(kLbResyncPrefix) + std::string(host); }
inline std::string app_metrics(std::string_view app) { return std::string(kAppMetricsPrefix) + std::string(app); }
inline std::string decision(std::string_view app) { return std::string(kDecisionPrefix) + std::string(app); }

}  // namespace pier::topic
