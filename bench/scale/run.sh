#!/usr/bin/env bash
# bench/scale: the control plane (pier-bus, pier-registry, pier-scheduler, pier-lbgen) against hollow
# hosts (bench/hollow: pier-hollow, the real bus protocol, no processes or HAProxy), on one machine.
# Each arm HOSTSxAPPSxREPLICAS starts a fresh stack, waits until every hollow host is registered,
# deploys APPS apps of REPLICAS instances (0.1 cpu, 64 MiB each) and waits until pier-hollow reports
# them converged (every instance running, every host's HAProxy config serving exactly them). Prints a
# JSON line per arm: seconds to register and to converge, the newest state.full's size, the CPU seconds
# each process spent over the arm, the registry's peak RSS, and the LB bytes one host received.
#   run.sh [ARM ...]        default: 10x10x10 100x10x100 (the first is the baseline the others are read against)
#   BIN_DIR                 the control plane's binaries (default build/bin): another build of pier
#                           (e.g. a worktree of an older commit) for an A/B against this one; pier-hollow
#                           too when BIN_DIR has one (the hosts speak that build's messages), else
#                           build/bin's; pier always comes from build/bin
#   PIER_SKIP_BUILD=1       do not build first
#   TIMEOUT_S               per arm, to converge (default 600)
#   REGISTRY_ARGS           extra flags for pier-registry (e.g. --host-down-after-ms 60000)
#   STEADY_S                after converging, measure this long with nothing changing (default 20; 0: skip):
#                           bytes per second pier-bus sent to its subscribers and received from publishers
#                           (the kernel's TCP counters of its sockets, ss -ti),
#                           and the state and LB bytes per second one host receives (what each real agent
#                           would: pier-hollow is one subscriber for all its hosts)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
[ "${PIER_SKIP_BUILD:-0}" = 1 ] || bash scripts/build.sh pier-stack pier-hollow >/dev/null
bin=$(cd build/bin && pwd)
plane=$(cd "${BIN_DIR:-build/bin}" && pwd)
hollow=$bin/pier-hollow
[ -x "$plane/pier-hollow" ] && hollow=$plane/pier-hollow
timeout_s=${TIMEOUT_S:-600}
arms=("$@")
[ ${#arms[@]} -gt 0 ] || arms=(10x10x10 100x10x100)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_s() {  # pid -> user+system CPU seconds so far
  awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0
}
tcp_bytes() {  # port key(bytes_acked|bytes_received) -> summed over the established TCP connections on that local port
  ss -tinH state established "( sport = :$1 )" | grep -o "$2:[0-9]*" | awk -F: '{ s += $2 } END { print s + 0 }'
}
host_bytes() {  # hollow.jsonl -> state + LB bytes one host received so far (an older pier-hollow: from what it counts)
  tail -n 1 "$1" | python3 -c "
import json, sys
f = json.loads(sys.stdin.read())
state = f['state_full_bytes'] + f['state_delta_bytes'] if 'state_full_bytes' in f else f['states'] * f['state_bytes']
print(state + f.get('lb_bytes', 0) // max(1, f['hosts']) + f.get('lb_spec_bytes', 0))"
}
rss_peak_mib() { awk '/VmHWM/ { print int($2 / 1024) }' "/proc/$1/status" 2>/dev/null || echo 0; }
last_figure() {  # file key -> the key's value in the newest JSON line
  tail -n 1 "$1" | python3 -c "import json,sys; print(json.loads(sys.stdin.read() or '{}').get('$2', ''))"
}

run_arm() {  # HOSTSxAPPSxREPLICAS -> one JSON line
  local hosts apps replicas
  IFS=x read -r hosts apps replicas <<<"$1"
  local state
  state=$(mktemp -d /tmp/pier-bench-scale-XXXXXX)
  export PIER_BUS_PUB=tcp://127.0.0.1:$(free_port) PIER_BUS_SUB=tcp://127.0.0.1:$(free_port)
  local pids=()
  trap 'kill ${pids[*]} 2>/dev/null; wait 2>/dev/null; rm -rf "$state"' RETURN
  "$plane/pier-bus" --publishers "$PIER_BUS_PUB" --subscribers "$PIER_BUS_SUB" >"$state/bus.log" 2>&1 &
  pids+=($!)
  local bus_pid=$!
  # shellcheck disable=SC2086
  "$plane/pier-registry" --db "$state/registry.db" ${REGISTRY_ARGS:-} >"$state/registry.log" 2>&1 &
  pids+=($!)
  local registry_pid=$!
  "$plane/pier-scheduler" >"$state/scheduler.log" 2>&1 &
  pids+=($!)
  local scheduler_pid=$!
  "$plane/pier-lbgen" >"$state/lbgen.log" 2>&1 &
  pids+=($!)
  local lbgen_pid=$!
  local start=$SECONDS
  "$hollow" --hosts "$hosts" --duration-ms $(((timeout_s + 120) * 1000)) >"$state/hollow.jsonl" \
    2>"$state/hollow.log" &
  pids+=($!)
  local hollow_pid=$!
  until [ "$(last_figure "$state/hollow.jsonl" registered)" = "$hosts" ]; do
    [ $((SECONDS - start)) -lt 120 ] || { echo "arm $1: hosts never all registered" >&2; tail -3 "$state/hollow.jsonl" >&2; return 1; }
    sleep 0.2
  done
  local registered_s=$((SECONDS - start))
  local before=() p
  for p in $bus_pid $registry_pid $scheduler_pid $lbgen_pid $hollow_pid; do before+=("$(cpu_s "$p")"); done
  local t0 t1
  t0=$(date +%s%N)
  for ((a = 1; a <= apps; a++)); do
    "$bin/pier" deploy --name "app-$a" --image pier/demo-app --command pier-demo-app --port "$((20000 + a)):8000" \
      --replicas "$replicas" --cpu 0.1 --memory 64m --detach --timeout 30 >/dev/null
  done
  until [ "$(last_figure "$state/hollow.jsonl" converged)" = "True" ]; do
    if [ $(((($(date +%s%N) - t0) / 1000000000))) -ge "$timeout_s" ]; then
      echo "arm $1: not converged within ${timeout_s} s" >&2
      tail -2 "$state/hollow.jsonl" >&2
      return 1
    fi
    sleep 0.1
  done
  t1=$(date +%s%N)
  local i=0 cpu=()
  for p in $bus_pid $registry_pid $scheduler_pid $lbgen_pid $hollow_pid; do
    cpu+=("$(python3 -c "print(round($(cpu_s "$p") - ${before[$i]}, 2))")")
    i=$((i + 1))
  done
  local suspect
  suspect=$(grep -c "suspect: no heartbeat" "$state/registry.log" || true)
  printf '{"arm":"%s","hosts":%s,"instances":%s,"register_s":%s,"converge_s":%s,"state_bytes":%s,"revision":%s,' \
    "$1" "$hosts" $((apps * replicas)) "$registered_s" "$(python3 -c "print(round(($t1 - $t0) / 1e9, 2))")" \
    "$(last_figure "$state/hollow.jsonl" state_bytes)" "$(last_figure "$state/hollow.jsonl" state_revision)"
  # LB bytes a host received since it started: its own lb.config.<host> (lb_bytes counts every hollow
  # host's) plus every lb.spec (each host gets each; an older pier-hollow does not count them: 0).
  local lb_per_host
  lb_per_host=$(python3 -c "
import json
f = json.loads(open('$state/hollow.jsonl').read().splitlines()[-1])
print(f.get('lb_bytes', 0) // max(1, f['hosts']) + f.get('lb_spec_bytes', 0))")
  printf '"cpu_s":{"bus":%s,"registry":%s,"scheduler":%s,"lbgen":%s,"hollow":%s},"registry_rss_mib":%s,"suspect_events":%s,' \
    "${cpu[@]}" "$(rss_peak_mib "$registry_pid")" "$suspect"
  printf '"lb_bytes_per_host":%s' "$lb_per_host"
  local steady_s=${STEADY_S:-20}
  if [ "$steady_s" -gt 0 ]; then
    local w0 r0 h0 w1 r1 h1
    local sub_port=${PIER_BUS_SUB##*:} pub_port=${PIER_BUS_PUB##*:}
    w0=$(tcp_bytes "$sub_port" bytes_acked) r0=$(tcp_bytes "$pub_port" bytes_received) h0=$(host_bytes "$state/hollow.jsonl")
    sleep "$steady_s"
    w1=$(tcp_bytes "$sub_port" bytes_acked) r1=$(tcp_bytes "$pub_port" bytes_received) h1=$(host_bytes "$state/hollow.jsonl")
    printf ',"steady_s":%s,"steady_bus_out_bps":%s,"steady_bus_in_bps":%s,"steady_host_bps":%s' "$steady_s" \
      $(((w1 - w0) / steady_s)) $(((r1 - r0) / steady_s)) $(((h1 - h0) / steady_s))
  fi
  printf '}\n'
}

for arm in "${arms[@]}"; do
  [[ $arm =~ ^[0-9]+x[0-9]+x[0-9]+$ ]] || { echo "bench/scale: arm $arm: must be HOSTSxAPPSxREPLICAS" >&2; exit 2; }
  (run_arm "$arm")
done
