// Small builders for registry states in lbgen tests.
#pragma once

#include <string>
#include <vector>

#include "common/messages.h"

namespace pier::lbgen::testing {

inline msg::HostRecord host(const std::string& id, const std::string& address = "127.0.0.1", int stats_port = 19400) {
  msg::HostRecord h;
  h.id = id;
  h.address = address;
  h.haproxy_socket = "/run/pier/" + id + "/haproxy.sock";
  h.stats_port = stats_port;
  h.status = "up";
  return h;
}

inline msg::AppRecord app(const std::string& name, std::vector<msg::PortMapping> ports,
                          const std::string& protocol = "http", const std::string& context_path = "/",
                          const std::string& algorithm = "roundrobin") {
  msg::AppRecord a;
  a.spec.name = name;
  a.spec.image = "pier/demo-app";
  a.spec.ports = std::move(ports);
  a.spec.protocol = protocol;
  a.spec.context_path = context_path;
  a.spec.algorithm = algorithm;
  return a;
}

inline msg::InstanceRecord instance(const std::string& id, const std::string& app, const std::string& host,
                                    const std::string& ip, const std::string& state = "running") {
  msg::InstanceRecord i;
  i.id = id;
  i.app = app;
  i.host = host;
  i.ip = ip;
  i.state = state;
  return i;
}

}  // namespace pier::lbgen::testing
