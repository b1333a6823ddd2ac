// Runs HAProxy on this host with the configuration lbgen publishes for it. A config whose hash
// differs from the running one is written to haproxy.cfg.new and checked with `haproxy -c`; a config
// that fails the check is refused (LbStatus.error says why) and the last good one keeps running; one
// that passes becomes haproxy.cfg and HAProxy (master-worker, `-W`, one master for the agent's life)
// is started or reloaded with SIGUSR2 to its master.
//
// Nothing here waits on HAProxy: the check and the load are operations in progress (haproxy_master.h),
// which each tick() moves on; LbStatus changes when one ends. A config that comes meanwhile waits in
// one slot (the newest wins) and is applied once the one in flight ended.
//
// A config that differs from the running one only in the servers of its backends (plan_lb_update in
// lb_update.h, and the text outside `server` lines unchanged) is applied without a reload, through
// the Runtime API on the running config's stats socket; haproxy.cfg is then replaced (no `haproxy -c`:
// only server lines changed, and HAProxy accepted each of them) so that a restart lands in the same
// state. When a command is refused, the agent logs why and reloads instead.
//
// Files under the directory given (the agent uses <state-dir>/haproxy): haproxy.cfg, haproxy.cfg.new,
// haproxy.pid (the master), haproxy.log (its output), haproxy.sock (admin socket, from the template),
// haproxy.check.log (the last `haproxy -c` output), lb-status (the LbStatus of what runs, so that a
// restarted agent adopts a live master and knows its config instead of starting a second HAProxy),
// lb-spec (the LbSpec of what runs, for the next runtime update).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/messages.h"
#include "common/status.h"
#include "services/agent/haproxy_master.h"
#include "services/agent/haproxy_runtime.h"
#include "services/agent/lb_update.h"

namespace pier::agent {

struct LbApplierOptions {
  std::string dir;
  std::string haproxy = "haproxy";
  int check_timeout_ms = 15'000;
  int load_timeout_ms = 10'000;  // for a (re)started master to say "Loading success"
  int stop_grace_ms = 3000;
  int64_t restart_backoff_ms = 1000;
  bool runtime_api = true;        // false: every change reloads (for comparisons)
  int del_server_retry_ms = 100;  // how often a refused `del server` (connections attached) is sent again
  int servers_up_ms = 500;        // how often LbStatus.servers_up is read again from `show stat`
  // Servers added through the Runtime API lack the options HAProxy 2.6 refuses for dynamic servers
  // (tcp-ut, which ends a request written to a host that was cut off: see the template): once no
  // runtime update has added one for this long, a reload gives them the file's. 0: never.
  int settle_reload_ms = 0;
  // When set, the config written has the HTTP frontends routing to an app that needs a p95 log each
  // request to this unix datagram socket (request_log.h); lbgen's text and hash are otherwise unchanged.
  std::string request_log_socket;
};

class LbApplier {
 public:
  // Creates the directory and adopts the master that haproxy.pid names when it is alive and runs
  // this directory's haproxy.cfg (and begins a reload of it, so that it runs haproxy.cfg as saved).
  LbApplier(LbApplierOptions options, const Clock& clock);

  // Applies `config` when its hash differs from the running one (and from the last refused one): at
  // once through the Runtime API, else by beginning its check. While a check or a load is in progress
  // the config waits (newest wins). Returns whether status() changed.
  bool apply(const msg::LbConfig& config);
  // A config that could not be rendered (`why`: the template fails on its spec): LbStatus.error says so
  // and what runs keeps running. Returns whether status() changed.
  bool refuse(const msg::LbConfig& config, const std::string& why);
  // Moves a check or a load on and ends it; applies a config that waited; notices a dead master and
  // starts HAProxy again (after a backoff); reads which servers HAProxy's checks find up
  // (LbStatus.servers_up) every servers_up_ms. Returns whether status() changed.
  bool tick();
  // Whether a check or a load is in progress (tick it often: its end is read off files and processes).
  bool busy() const { return flight_.has_value() || master_.busy(); }
  // Stops HAProxy (agent exit with --stop-on-exit): the one call that waits, up to the stop grace.
  void stop();

  const msg::LbStatus& status() const { return status_; }
  pid_t master_pid() const { return master_.pid(); }
  bool adopted() const { return master_.adopted(); }
  std::string config_path() const { return options_.dir + "/haproxy.cfg"; }
  std::string next_config_path() const { return config_path() + ".new"; }  // written, then checked
  std::string pid_path() const { return options_.dir + "/haproxy.pid"; }
  std::string log_path() const { return options_.dir + "/haproxy.log"; }
  std::string socket_path() const { return options_.dir + "/haproxy.sock"; }
  std::string spec_path() const { return options_.dir + "/lb-spec"; }

 private:
  // A config on its way to HAProxy: checked, then loaded by a start or a reload.
  struct Flight {
    msg::LbConfig config;
    bool loading = false;  // the check passed and haproxy.cfg is this config's
    bool reload = false;   // a master ran when it began
  };
  // Why the master is busy when no config is in flight.
  enum class Chore { none, adopt, settle, restart };

  bool begin(const msg::LbConfig& config);
  bool step_check();
  bool loaded(const Flight& flight, const Status& outcome);
  bool chore_done(const Status& outcome);
  bool start_failed(const msg::LbConfig* config, const std::string& why);
  void begin_reload();
  void save_status() const;
  // Applies `config` through the Runtime API when plan_lb_update allows it. False: reload instead.
  bool apply_at_runtime(const msg::LbConfig& config);
  Status run_command(const HaproxyRuntimeApi& api, const RuntimeCommand& command);
  // Sends the `del server` lines refused while connections were attached, again (at most every
  // del_server_retry_ms). Returns whether any went through.
  bool retry_pending_deletes();
  // Reads `show stat` for LbStatus.servers_up when due. Returns whether it changed.
  bool refresh_servers_up();
  // The settle reload (settle_reload_ms) when due.
  void settle();
  void set_running_spec(const msg::LbSpec* spec);
  // The text HAProxy runs for `config`: lbgen's, with the request log added when configured.
  std::string config_text(const msg::LbConfig& config) const;

  LbApplierOptions options_;
  const Clock& clock_;
  msg::LbStatus status_;
  std::optional<msg::LbSpec> running_spec_;  // what HAProxy runs, when known
  std::string refused_hash_;
  HaproxyMaster master_;
  ConfigCheck check_;
  std::optional<Flight> flight_;
  std::optional<msg::LbConfig> waiting_;  // came while one was in flight: the newest wins
  Chore chore_ = Chore::none;
  int64_t restart_at_ms_ = -1;
  std::vector<std::string> pending_deletes_;  // `del server` lines to send again (servers in maintenance)
  int64_t next_delete_try_ms_ = 0;
  int64_t next_servers_up_ms_ = 0;
  int64_t settle_at_ms_ = -1;  // when to reload for the servers added at run time (-1: none waits)
};

}  // namespace pier::agent
