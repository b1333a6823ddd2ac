// pier-agent: runs this host's instances (docker or exec runtime) and its HAProxy, as the registry's state and
// lbgen's config for this host say, and reports heartbeats and samples.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>

#include "common/bus.h"
#include "common/log.h"
#include "common/net.h"
#include "common/options.h"
#include "common/stop_signal.h"
#include "common/topics.h"
#include "common/validate.h"
#include "services/agent/agent.h"
#include "services/agent/docker_engine.h"
#include "services/agent/docker_runtime.h"
#include "services/agent/exec_runtime.h"
#include "services/agent/lb_applier.h"
#include "services/agent/lb_figures.h"
#include "services/agent/netlink.h"
#include "services/agent/overlay.h"
#include "services/agent/peer_probe.h"
#include "services/agent/probe.h"
#include "services/agent/proc_stats.h"
#include "services/agent/reconciler.h"
#include "services/agent/request_log.h"
#include "services/agent/workers.h"

namespace {

// The networks of a comma-separated list of IPv4 CIDRs; false (with the error printed, naming the flag)
// when an item is not one.
bool parse_networks(const char* flag, const std::string& text, std::vector<pier::net::Ipv4Net>* out) {
  for (std::size_t start = 0; start <= text.size();) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    if (comma > start) {
      const std::string item = text.substr(start, comma - start);
      auto network = pier::net::parse_cidr(item);
      if (!network.ok()) {
        std::cerr << "error: " << flag << ": " << item << " must be an IPv4 CIDR (10.224.0.0/11)\n";
        return false;
      }
      out->push_back(*network);
    }
    start = comma + 1;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace pier;
  namespace po = boost::program_options;
  bus::Endpoints endpoints;
  agent::AgentOptions options;
  agent::ReconcilerOptions reconciler_options;
  agent::LbApplierOptions lb_options;
  const agent::HostFacts facts = agent::read_host_facts();
  options.host_id = agent::host_id_from_hostname(facts.hostname);
  std::string level, runtime_kind = "auto", docker_socket = "/var/run/docker.sock", lb_apply = "runtime";
  std::string overlay_mode = "auto", overlay_address, firewall_networks = "10.224.0.0/11,10.212.0.0/15";
  agent::OverlayConfig overlay_config;
  bool stop_on_exit = false;
  int settle_reload_ms = 500;
  po::options_description desc("pier-agent options");
  // clang-format off
  desc.add_options()
      ("host-id", po::value(&options.host_id)->default_value(options.host_id), "this host's id (a DNS label)")
      ("address", po::value(&options.address)->default_value(options.address),
       "IPv4 address HAProxy listens on for clients")
      ("state-dir", po::value(&options.state_dir)->default_value(options.state_dir),
       "instance logs and pid files, HAProxy's files")
      ("runtime", po::value(&runtime_kind)->default_value(runtime_kind),
       "how instances run: docker | exec | auto (docker when its daemon answers, else exec)")
      ("docker-socket", po::value(&docker_socket)->default_value(docker_socket), "the Docker Engine API's unix socket")
      ("stats-port", po::value(&options.stats_port)->default_value(options.stats_port),
       "HAProxy stats and Prometheus exporter port")
      ("heartbeat-ms", po::value(&options.heartbeat_ms)->default_value(options.heartbeat_ms),
       "publish the full status this often (and on every change)")
      ("sample-ms", po::value(&options.sample_ms)->default_value(options.sample_ms), "publish load samples this often")
      ("haproxy", po::value(&lb_options.haproxy)->default_value(lb_options.haproxy), "the HAProxy program")
      ("lb-apply", po::value(&lb_apply)->default_value(lb_apply),
       "how HAProxy follows membership changes: runtime (Runtime API, reload only for structural changes) | "
       "reload (reload on every change, as reload-based load balancers do; for comparisons)")
      ("stop-grace-ms", po::value(&reconciler_options.stop_grace_ms)->default_value(reconciler_options.stop_grace_ms),
       "time an instance gets between SIGTERM and SIGKILL")
      ("overlay", po::value(&overlay_mode)->default_value(overlay_mode),
       "how other hosts reach this host's instances: vxlan | host-gw (hosts on one L2 segment) | none (one "
       "machine) | auto (none when --address is loopback, else vxlan); docs/FLEET.md")
      ("overlay-address", po::value(&overlay_address), "IPv4 address peers send overlay traffic to (default --address)")
      ("overlay-device", po::value(&overlay_config.device)->default_value(overlay_config.device),
       "name of the VXLAN device the agent owns")
      ("vxlan-vni", po::value(&overlay_config.vni)->default_value(overlay_config.vni),
       "VXLAN network identifier (the same on every host)")
      ("vxlan-port", po::value(&overlay_config.port)->default_value(overlay_config.port), "UDP port of VXLAN packets")
      ("probe-port", po::value(&overlay_config.probe_port)->default_value(overlay_config.probe_port),
       "TCP port this agent answers peers' overlay checks on, at its subnet's first address")
      ("firewall-networks", po::value(&firewall_networks)->default_value(firewall_networks),
       "docker runtime on an overlay, where dockerd manages iptables: the networks (comma-separated) whose "
       "traffic to this host's instances pier accepts in DOCKER-USER and keeps from masquerading (default: "
       "the registry's routed and docker networks, and their earlier defaults 10.212.0.0/16 and 10.213.0.0/16)")
      ("lb-settle-reload-ms", po::value(&settle_reload_ms)->default_value(settle_reload_ms),
       "on an overlay: reload HAProxy once no runtime update has added a server for this long, so that "
       "servers added at run time get tcp-ut (a request to a host cut off is retried elsewhere); 0: never")
      ("stop-on-exit", po::bool_switch(&stop_on_exit),
       "stop instances and HAProxy when the agent exits (default: leave them serving)");
  // clang-format on
  options::add_bus(desc, endpoints, options::PlaintextBus::loopback_only);
  options::add_log_level(desc, level);
  options::parse_or_exit(argc, argv, desc,
                         "usage: pier-agent [options]\n\nRuns this host's instances and HAProxy as pier's state says.");
  log::init("pier-agent", level);
  if (runtime_kind != "exec" && runtime_kind != "docker" && runtime_kind != "auto") {
    std::cerr << "error: runtime: must be docker, exec or auto\n";
    return 2;
  }
  if (lb_apply != "runtime" && lb_apply != "reload") {
    std::cerr << "error: lb-apply: must be runtime or reload\n";
    return 2;
  }
  lb_options.runtime_api = lb_apply == "runtime";
  agent::DockerEngine engine(docker_socket);
  if (runtime_kind == "auto") {
    const Status ping = engine.ping();
    runtime_kind = ping.ok() ? "docker" : "exec";
    if (!ping.ok()) std::cerr << "pier-agent: no docker daemon (" << ping.message() << "): exec runtime\n";
  }
  if (Status s = validate::dns_label("host-id", options.host_id); !s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return 2;
  }
  if (!net::parse_ipv4(options.address).ok()) {
    std::cerr << "error: --address must be an IPv4 address\n";
    return 2;
  }
  if (overlay_mode == "auto") {
    auto address = net::parse_ipv4(options.address);
    overlay_mode = address.ok() && (*address >> 24) == 127 ? "none" : "vxlan";
  }
  if (overlay_mode != "vxlan" && overlay_mode != "host-gw" && overlay_mode != "none") {
    std::cerr << "error: overlay: must be vxlan, host-gw, none or auto\n";
    return 2;
  }
  if (settle_reload_ms < 0) {
    std::cerr << "error: lb-settle-reload-ms: must be at least 0\n";
    return 2;
  }
  std::vector<net::Ipv4Net> firewall_list;
  if (!parse_networks("firewall-networks", firewall_networks, &firewall_list)) return 2;
  if (overlay_mode != "none") {
    // Only an overlay puts servers on other hosts, the ones a cut link leaves hanging.
    lb_options.settle_reload_ms = settle_reload_ms;
    overlay_config.mode = overlay_mode;
    overlay_config.host_id = options.host_id;
    overlay_config.underlay = overlay_address.empty() ? options.address : overlay_address;
    if (Status s = agent::validate_overlay_config(overlay_config); !s.ok()) {
      std::cerr << "error: " << s.message() << " (one machine: --overlay none)\n";
      return 2;
    }
  }
  if (Status s = validate::port("stats-port", options.stats_port); !s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return 2;
  }
  if (options.heartbeat_ms < 50 || options.sample_ms < 100 || reconciler_options.stop_grace_ms < 0) {
    std::cerr << "error: --heartbeat-ms must be at least 50, --sample-ms at least 100, --stop-grace-ms at least 0\n";
    return 2;
  }
  options.state_dir = std::filesystem::absolute(options.state_dir).lexically_normal().string();
  lb_options.dir = options.state_dir + "/haproxy";

  SystemClock clock;
  std::unique_ptr<agent::Runtime> runtime;
  std::unique_ptr<agent::LbApplier> lb;
  std::unique_ptr<agent::RequestLog> request_log;
  try {
    // HAProxy logs every HTTP request here: the p95 latency of the samples (request_log.h).
    std::filesystem::create_directories(lb_options.dir);
    auto opened = agent::RequestLog::open(lb_options.dir + "/requests.sock");
    if (opened.ok()) {
      request_log = std::move(*opened);
      lb_options.request_log_socket = request_log->path();
    } else {
      spdlog::warn("no request log, so no latency figures: {}", opened.status().message());
    }
    if (runtime_kind == "docker") {
      // A daemon that is down is not fatal: starts fail with its reason and are retried with backoff.
      if (Status s = engine.ping(); !s.ok()) spdlog::error("docker runtime: {}; will retry", s.message());
      runtime = std::make_unique<agent::DockerRuntime>(engine, options.host_id, clock);
    } else {
      runtime = std::make_unique<agent::ExecRuntime>(options.state_dir, options.host_id, clock);
    }
    lb = std::make_unique<agent::LbApplier>(lb_options, clock);
  } catch (const std::exception& e) {
    spdlog::error("cannot use state directory {}: {}", options.state_dir, e.what());
    return 1;
  }
  // The overlay before the first heartbeat: heartbeats carry its VTEP MAC.
  std::optional<agent::LibnlNetlink> netlink;  // a netlink socket only for an overlay
  std::optional<agent::Overlay> overlay;
  agent::ProbeListener probe_listener;
  agent::IptablesProgram iptables;
  agent::DockerFirewall firewall(iptables);
  if (!overlay_config.mode.empty()) {
    netlink.emplace();
    overlay.emplace(overlay_config, *netlink, runtime->kind() == "exec");
    if (Status s = netlink->status().ok() ? overlay->setup() : netlink->status(); !s.ok()) {
      spdlog::error("overlay {}: {} (the agent needs CAP_NET_ADMIN; one machine: --overlay none)", overlay_config.mode,
                    s.message());
      return 1;
    }
    options.overlay = overlay->info();
    if (auto* docker = dynamic_cast<agent::DockerRuntime*>(runtime.get()); docker != nullptr)
      docker->set_network_mtu(options.overlay.mtu);
  }
  agent::TcpProber prober;
  agent::Reconciler reconciler(options.host_id, *runtime, prober, clock, reconciler_options);
  agent::HaproxyLbFigures lb_figures(lb->socket_path(), request_log.get());
  agent::Sampler sampler;
  agent::Handoff handoff;
  agent::Agent agent(options, facts, runtime->kind(), lb->socket_path(), handoff, clock);

  zmq::context_t context;
  bus::Publisher publisher(context, endpoints, "agent/" + options.host_id, clock);
  bus::Subscriber subscriber(
      context, endpoints,
      {std::string(topic::kStateFull), std::string(topic::kStateDelta), std::string(topic::kLbSpec),
       topic::lb_config(options.host_id), topic::reply_to("agent/" + options.host_id)});
  stop_signal::install();
  spdlog::info(
      "agent up: host {} ({}, {} cpus, {} MiB), address {}, state {}, runtime {}, {} adopted instances, overlay {}",
      options.host_id, facts.hostname, facts.cpus, facts.memory_bytes >> 20, options.address, options.state_dir,
      runtime->kind(), runtime->list().size(),
      overlay ? overlay_config.mode + " (underlay " + options.overlay.underlay + ", mtu " +
                    std::to_string(options.overlay.mtu) + (options.overlay.vtep_mac.empty() ? "" : ", vtep ") +
                    options.overlay.vtep_mac + ")"
              : std::string("none"));
  {
    // This thread owns the bus sockets and sends the heartbeats; the slow work runs on the workers
    // (workers.h), which end and are joined at the end of this block.
    // The LB worker first: the instance worker reads the servers HAProxy runs from its first tick.
    const auto haproxy = agent::start_haproxy_worker(*lb, handoff, clock);
    const auto instances = agent::start_instances_worker(reconciler, handoff, clock);
    const auto sample =
        agent::start_sample_worker(options.host_id, sampler, &lb_figures, handoff, clock, options.sample_ms);
    for (const auto* worker : {instances.get(), haproxy.get(), sample.get()}) agent.watch(*worker);
    std::unique_ptr<agent::Worker> overlay_worker;
    if (overlay) {
      agent::OverlayWorkerOptions overlay_options;
      if (auto* docker = dynamic_cast<agent::DockerRuntime*>(runtime.get()); docker != nullptr) {
        overlay_options.on_subnet = [docker](const std::string& subnet) { return docker->ensure_host_network(subnet); };
        overlay_options.firewall = &firewall;
        for (const auto& network : firewall_list)
          overlay_options.firewall_networks.push_back(net::format_cidr(network));
      }
      overlay_worker = agent::start_overlay_worker(*overlay, probe_listener, handoff, clock, overlay_options);
      agent.watch(*overlay_worker);
    }
    while (!stop_signal::requested()) agent.step(subscriber, publisher, 20);
  }

  if (stop_on_exit) {
    spdlog::info("stopping instances and haproxy on host {}", options.host_id);
    reconciler.stop_all();
    const int64_t deadline = clock.steady_ms() + reconciler_options.stop_grace_ms + 2000;
    while (!reconciler.idle() && clock.steady_ms() < deadline) {
      reconciler.tick();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    lb->stop();
  }
  spdlog::info("agent stopped on host {} ({} malformed messages dropped, longest heartbeat gap {} ms){}",
               options.host_id, subscriber.dropped(), agent.longest_heartbeat_gap_ms(),
               stop_on_exit ? "" : "; instances and haproxy left running");
  return 0;
}
