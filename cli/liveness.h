// Is a change live yet, and what changed since the last look? Pure functions of the published State, so
// that `pier deploy/scale/rm` decide from the state alone and tests check every case without a bus.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/messages.h"

namespace pier::cli {

// Whether instance id `id` is one of `app`'s ("<app>-<n>"; "web-api-1" is not web's).
bool belongs_to(const std::string& id, const std::string& app);

struct Liveness {
  bool live = false;
  int wanted = 0;
  int present = 0;  // the app's instances in the state
  int running = 0;
  int failed = 0;  // instances the agent gave up on: the change cannot become live without a new spec
  // Set when the app's rollout of a revision >= assess's `since_revision` was rolled back or is stuck:
  // "rolled back to revision 4: revision 7: instance web-9 not healthy within 60 s (starting)".
  std::string rollout_failed;
  // Why it is not live yet, most telling first: failed instances with their reason, unplaced instances
  // with the scheduler's reason, hosts whose HAProxy does not yet serve exactly the app's instances.
  std::vector<std::string> waiting_on;
  std::string summary() const;  // "2/3 running"
};

// The change is live when the state holds exactly `wanted` instances of `app`, all `running` and of the
// app's revision (no rollout under way), and every host with status "up" lists exactly those instance
// ids among its HAProxy servers (the digest of its LbApp for `app`: no server of the app that is not
// one of them) and, when its agent reports checks, finds every one of them up: listed is not yet
// answering. wanted == 0 means removed: no instance left, no up host serving one.
Liveness assess(const msg::State& state, const std::string& app, int wanted, int64_t since_revision = 0);

// "rolling to revision 7: 1/3 new instances healthy", "rolled back to revision 4: <why>", "" when the
// app has no rollout under way or failed.
std::string rollout_line(const msg::AppRecord& app);

// Progress lines in the style of docker compose, one per instance whose state, IP or host changed since
// the previous call (the first call reports every instance):
//   " ✔ web-3  running  127.100.1.4  host-a", " … web-4  starting", " ✘ web-2  failed  exit code 1",
//   " ✔ web-5  removed".
class ProgressTracker {
 public:
  explicit ProgressTracker(std::string app) : app_(std::move(app)) {}
  std::vector<std::string> update(const msg::State& state);

 private:
  std::string app_;
  std::map<std::string, std::string> last_;  // instance id -> its last printed line
};

// " web: 3/3 running, serving on :8080" / "web: 2/2 running, serving on :8080/api" / "echo: removed".
std::string final_line(const msg::State& state, const std::string& app, int wanted);

}  // namespace pier::cli
