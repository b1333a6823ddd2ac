// A host's HAProxy servers summed up per app (LbStatus.apps): heartbeats and the published State carry
// counts, a digest and the few servers not up instead of every server's name, so their size grows with
// the apps, not with hosts x instances. Readers take either form: lb::apps() sums up the full lists of
// an agent older than `apps`.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "common/messages.h"

namespace pier::lb {

// At most this many names in an LbApp's `down` (listed - up counts them all).
constexpr std::size_t kMaxDownNamed = 16;

// The app an instance id belongs to ("web-api-3" -> "web-api"); an id without a numeric suffix is an
// app of its own.
std::string app_of(const std::string& instance_id);

// Names a set of instance ids, in any order: common/hash.h of the sorted ids, one per line.
std::string servers_digest(std::vector<std::string> ids);

// `servers` per app, sorted by app; `up` (when reports_up) the ones of them found answering.
std::vector<msg::LbApp> summarize(const std::vector<std::string>& servers, const std::vector<std::string>& up,
                                  bool reports_up);

// The LbStatus a heartbeat carries: `full` with `apps` and without the servers/servers_up lists.
msg::LbStatus for_wire(msg::LbStatus full);

// The apps of an LbStatus of either form.
std::vector<msg::LbApp> apps(const msg::LbStatus& status);

// The entry for `app`, nullptr when the host's HAProxy lists none of its instances.
const msg::LbApp* find(const std::vector<msg::LbApp>& apps, const std::string& app);

}  // namespace pier::lb
