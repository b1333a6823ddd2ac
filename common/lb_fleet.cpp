#include "common/lb_fleet.h"

#include "common/codec.h"
#include "common/hash.h"

namespace pier::lb {
namespace {

std::string frontends_digest(const std::vector<msg::LbFrontend>& frontends) {
  return hash::fnv1a_hex(codec::encode(frontends));
}

}  // namespace

std::string backend_digest(const msg::LbBackend& backend) { return hash::fnv1a_hex(codec::encode(backend)); }

std::string fleet_hash(const FleetSpec& spec) {
  std::string names = spec.template_hash + "\n" + spec.frontends_digest + "\n";
  for (const auto& [name, entry] : spec.backends) names += name + " " + entry.digest + "\n";
  return hash::fnv1a_hex(names);
}

FleetSpec fleet_of(const msg::LbSpec& spec, std::string template_text, int64_t state_revision) {
  FleetSpec fleet;
  fleet.state_revision = state_revision;
  fleet.frontends = spec.frontends;
  fleet.frontends_digest = frontends_digest(spec.frontends);
  for (const auto& backend : spec.backends) fleet.backends[backend.name] = {backend_digest(backend), backend};
  fleet.template_hash = hash::fnv1a_hex(template_text);
  fleet.template_text = std::move(template_text);
  fleet.hash = fleet_hash(fleet);
  return fleet;
}

msg::LbSpecUpdate whole(const FleetSpec& spec) {
  msg::LbSpecUpdate update;
  update.state_revision = spec.state_revision;
  update.hash = spec.hash;
  update.has_frontends = true;
  update.frontends = spec.frontends;
  update.frontends_digest = spec.frontends_digest;
  update.backends.reserve(spec.backends.size());
  for (const auto& [name, entry] : spec.backends) update.backends.push_back(entry);
  update.template_hash = spec.template_hash;
  update.template_text = spec.template_text;
  return update;
}

msg::LbSpecUpdate delta(const FleetSpec& from, const FleetSpec& to) {
  msg::LbSpecUpdate update;
  update.state_revision = to.state_revision;
  update.base = from.hash;
  update.hash = to.hash;
  if (from.frontends_digest != to.frontends_digest) {
    update.has_frontends = true;
    update.frontends = to.frontends;
    update.frontends_digest = to.frontends_digest;
  }
  for (const auto& [name, entry] : to.backends) {
    auto old = from.backends.find(name);
    if (old == from.backends.end() || old->second.digest != entry.digest) update.backends.push_back(entry);
  }
  for (const auto& [name, entry] : from.backends)
    if (!to.backends.count(name)) update.removed.push_back(name);
  update.template_hash = to.template_hash;
  return update;
}

Status apply(FleetSpec& spec, const msg::LbSpecUpdate& update) {
  const bool is_whole = update.base.empty();
  if (!is_whole && !spec.hash.empty() && update.hash == spec.hash) {
    spec.state_revision = std::max(spec.state_revision, update.state_revision);
    return Status::Ok();  // what it holds already (a beacon, or an update seen twice)
  }
  if (!is_whole && (spec.hash.empty() || update.base != spec.hash))
    return Status::Invalid("base", "must be the hash of the spec held (" +
                                       (spec.hash.empty() ? std::string("none") : spec.hash) +
                                       "): an update was missed");
  FleetSpec next = is_whole ? FleetSpec{} : spec;
  if (is_whole) {
    if (hash::fnv1a_hex(update.template_text) != update.template_hash)
      return Status::Invalid("template_hash", "must be the hash of template_text");
    next.template_hash = update.template_hash;
    next.template_text = update.template_text;
  } else if (update.template_hash != next.template_hash) {
    return Status::Invalid("template_hash", "must be the template held: a new template comes as a whole spec");
  }
  if (update.has_frontends) {
    next.frontends = update.frontends;
    next.frontends_digest = update.frontends_digest;
  }
  for (const auto& entry : update.backends) next.backends[entry.backend.name] = entry;
  for (const auto& name : update.removed) next.backends.erase(name);
  next.state_revision = update.state_revision;
  next.hash = fleet_hash(next);
  if (next.hash != update.hash)
    return Status::Invalid("hash", "must be the hash of the spec once applied (" + next.hash + ")");
  spec = std::move(next);
  return Status::Ok();
}

msg::LbSpec for_host(const FleetSpec& spec, const std::string& host_id, const std::string& bind_address,
                     const std::string& stats_socket, int stats_port) {
  msg::LbSpec out;
  out.host_id = host_id;
  out.bind_address = bind_address;
  out.stats_socket = stats_socket;
  out.stats_port = stats_port;
  out.frontends = spec.frontends;
  out.backends.reserve(spec.backends.size());
  for (const auto& [name, entry] : spec.backends) out.backends.push_back(entry.backend);
  return out;
}

}  // namespace pier::lb
