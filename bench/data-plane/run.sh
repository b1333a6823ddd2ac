#!/usr/bin/env bash
# bench/data-plane: requests per second and p99 latency through the HAProxy that pier runs (the agent's,
# with lbgen's generated config and the request-log lines the agent adds) against a second HAProxy (same
# binary, same thread count and maxconn) running a hand-written minimal haproxy.cfg, on the same four
# backends, in the same run. Rounds alternate between the two (the order swaps every round), each a
# closed-loop unpaced pier-load for ROUND_MS: keep-alive clients, then clients that open a new connection
# for every request. Prints every round, the medians, the ratios pier/minimal, the CPU time per request of
# each HAProxy and of pier-agent, and a markdown table row. Target (issue 5): req/s ratio >= 0.97, p99
# ratio <= 1.05. See README.md beside this file for what differs between the two and why.
#
# BACKEND: `haproxy` (default) deploys, through pier's exec runtime, HAProxy processes that answer a
# fixed 200 themselves: cheap backends, so the load balancer's own cost shows. `demo` deploys
# pier-demo-app, which answers a request on a reused connection only after ~40 ms (README.md).
# BREAKDOWN=1 adds arms: copies of pier's config run from a file by other HAProxy processes, with one
# element left out or changed at a time, or all at once (keep-alive only unless KINDS says; 3 rounds of
# 3 s; ~2.5 min).
#
#   run.sh [ROUNDS]   (default 5)   BUILD_DIR (default build), PIER_SKIP_BUILD=1 (use BUILD_DIR as is),
#   BACKEND (haproxy | demo), WORKERS (clients, default 4), ROUND_MS (default 4000), BREAKDOWN=1,
#   KINDS (clients: "keepalive fresh" by default, "keepalive" with BREAKDOWN=1), ARMS (with BREAKDOWN=1:
#   only these of its arms, e.g. ARMS="pier-file pier-dyn-pool")
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
breakdown=${BREAKDOWN:-0}
rounds=${1:-$([ "$breakdown" = 1 ] && echo 3 || echo 5)}
backend=${BACKEND:-haproxy}
workers=${WORKERS:-4}
round_ms=${ROUND_MS:-$([ "$breakdown" = 1 ] && echo 3000 || echo 4000)}
replicas=4
case $backend in haproxy | demo) ;; *) echo "BACKEND must be haproxy or demo" >&2; exit 2 ;; esac
read -r -a kinds <<<"${KINDS:-$([ "$breakdown" = 1 ] && echo keepalive || echo keepalive fresh)}"
for kind in "${kinds[@]}"; do
  case $kind in keepalive | fresh) ;; *) echo "KINDS: keepalive and/or fresh, not $kind" >&2; exit 2 ;; esac
done
[ "${PIER_SKIP_BUILD:-0}" = 1 ] || bash scripts/build.sh >/dev/null  # builds BUILD_DIR (default build)
build_dir=$(cd "${BUILD_DIR:-build}" && pwd)
bin=$build_dir/bin
haproxy=$(command -v haproxy)
haproxy_version=$("$haproxy" -v | sed -n '1s/^HAProxy version \([0-9.]*\).*/\1/p')
version=$(sed -n 's/^project(pier VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# HAProxy's Runtime API, one command per connection: hap SOCKET COMMAND -> its answer.
hap() {
  python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
out = b""
while chunk := s.recv(65536):
    out += chunk
print(out.decode().strip())
PY
}
# Servers of a backend by status: counts SOCKET BACKEND -> "<up> <checked>" (backup twins left out).
checked_up() {
  hap "$1" "show stat -1 4 -1" | python3 -c '
import csv, sys
rows = [r for r in csv.reader(sys.stdin) if r]
head = [h.lstrip("# ") for h in rows[0]]
servers = [dict(zip(head, r)) for r in rows[1:] if r[0] == sys.argv[1]]
checked = [s for s in servers if s["check_status"] != "" and s["bck"] == "0"]
print(sum(s["status"] == "UP" for s in checked), len(checked))' "$2"
}
# Backend connections opened and reused: reuse SOCKET BACKEND -> "<connect> <reuse>".
reuse() {
  hap "$1" "show stat -1 4 -1" | python3 -c '
import csv, sys
rows = [r for r in csv.reader(sys.stdin) if r]
head = [h.lstrip("# ") for h in rows[0]]
servers = [dict(zip(head, r)) for r in rows[1:] if r[0] == sys.argv[1]]
print(sum(int(s["connect"] or 0) for s in servers), sum(int(s["reuse"] or 0) for s in servers))' "$2"
}
worker_of() { ps -o pid= --ppid "$1" | head -1 | tr -d ' '; }  # an HAProxy master's worker
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }      # user + system time of a process

state=$(mktemp -d /tmp/pier-bench-dp-XXXXXX)
arm_pids=()
cleanup() {
  for pid in "${arm_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${arm_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -z "${dev:-}" ] || { kill -INT "$dev" 2>/dev/null || true; wait "$dev" 2>/dev/null || true; }
  rm -rf "$state"
}
trap cleanup EXIT
export PIER_BUS_PUB=tcp://127.0.0.1:$(free_port) PIER_BUS_SUB=tcp://127.0.0.1:$(free_port)
"$bin/pier" dev --state-dir "$state" --metrics-listen "127.0.0.1:$(free_port)" --stats-port "$(free_port)" \
  --platform-network 127.94.0.0/16 >"$state/dev.out" 2>&1 &
dev=$!
deadline=$((SECONDS + 60))
# The bus's endpoints and, on pier dev's CURVE bus, the operator's key (written once the bus is up).
until [ -f "$state/dev.env" ]; do [ $SECONDS -lt $deadline ] || { echo "no dev.env" >&2; exit 1; }; sleep 0.1; done
set -a; . "$state/dev.env"; set +a
until "$bin/pier" hosts --output json --timeout 2 2>/dev/null | grep -q '"status": "up"'; do
  [ $SECONDS -lt $deadline ] || { echo "no agent" >&2; exit 1; }
  sleep 0.3
done

# The app: four backends on one external port, deployed and load balanced by pier.
pier_port=$(free_port)
if [ "$backend" = haproxy ]; then
  cat >"$state/backend.cfg" <<'EOF'
global
    nbthread 1
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend app
    bind "${HOST}:${PORT}"
    http-request return status 200 content-type text/plain string "instance=${PIER_INSTANCE}\n"
EOF
  app_args=(--image haproxy --tag "$haproxy_version" --command "$haproxy -f $state/backend.cfg")
else
  app_args=(--image pier/demo-app --tag "$version" --command pier-demo-app)
fi
"$bin/pier" deploy --name dp "${app_args[@]}" --port "$pier_port:8000" --replicas $replicas --timeout 60 >/dev/null
pier_cfg=$state/agent/haproxy/haproxy.cfg
pier_sock=$state/agent/haproxy/haproxy.sock
pier_backend=app_dp_8000
deadline=$((SECONDS + 30))
until [ "$(checked_up "$pier_sock" $pier_backend)" = "$replicas $replicas" ]; do  # past rise x inter
  [ $SECONDS -lt $deadline ] || { echo "pier's servers never all UP: $(checked_up "$pier_sock" $pier_backend)" >&2; exit 1; }
  sleep 0.3
done
mapfile -t servers < <(awk '$1 == "server" && $4 == "check" {print $2, $3}' "$pier_cfg")  # name ip:port

# An arm is one HAProxy load balancing the four backends: name, port, stats socket, master pid.
arm_names=(pier) arm_ports=("$pier_port") arm_socks=("$pier_sock") arm_backends=("$pier_backend")
arm_masters=("$(cat "$state/agent/haproxy/haproxy.pid")")
start_arm() {  # name config-file port socket backend [runtime commands...]
  local name=$1 cfg=$2 port=$3 sock=$4 be=$5 cmd
  shift 5
  "$haproxy" -W -f "$cfg" -p "$state/$name.pid" >"$state/$name.out" 2>&1 &
  arm_pids+=($!)
  local deadline=$((SECONDS + 10))
  # Ready: its socket is there, and it answers unless its servers are still to be added.
  until [ -S "$sock" ] && { [ $# -gt 0 ] || curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$port/"; }; do
    [ $SECONDS -lt $deadline ] || { echo "$name: haproxy did not start: $(tail -3 "$state/$name.out")" >&2; exit 1; }
    sleep 0.1
  done
  for cmd in "$@"; do hap "$sock" "$cmd" >/dev/null; done
  arm_names+=("$name") arm_ports+=("$port") arm_socks+=("$sock") arm_backends+=("$be") arm_masters+=("${arm_pids[-1]}")
}

# The hand-written minimal config: what pier's global sets for threads and connections, http mode, the
# same timeouts, one frontend, one roundrobin backend, no checks, no logs. The stats socket is only read
# at the end (connections opened and reused), never during a round.
min_port=$(free_port)
{
  echo "global"
  grep -E '^\s*(maxconn|nbthread)\s' "$pier_cfg"
  echo "    stats socket $state/minimal.sock mode 600 level admin"
  echo "defaults"
  echo "    mode http"
  grep -E '^\s*timeout (connect|client|server)\s' "$pier_cfg"
  echo "frontend fe"
  echo "    bind 127.0.0.1:$min_port"
  echo "    default_backend be"
  echo "backend be"
  echo "    balance roundrobin"
  for s in "${servers[@]}"; do echo "    server ${s% *} ${s#* }"; done
} >"$state/minimal.cfg"
start_arm minimal "$state/minimal.cfg" "$min_port" "$state/minimal.sock" be

if [ "$breakdown" = 1 ]; then
  # Copies of pier's config, run from a file: own port and stats socket, no stats frontend; the request
  # log still goes to the agent's socket (the agent reads it, as for pier's own HAProxy).
  copy_cfg() {  # name port -> prints the copy; the sed expressions given after change it
    local name=$1 port=$2
    shift 2
    sed -e '/^frontend stats$/,/^$/d' -e "s|^\(\s*stats socket \)\S*|\1$state/$name.sock|" \
      -e "s|bind 127.0.0.1:$pier_port\$|bind 127.0.0.1:$port|" "$@" "$pier_cfg"
  }
  wanted() { [ -z "${ARMS:-}" ] || [[ " $ARMS " == *" $1 "* ]]; }
  variant() {  # name sed-args... : a copy with those edits, started as an arm
    local name=$1 port
    shift
    wanted "$name" || return 0
    port=$(free_port)
    copy_cfg "$name" "$port" "$@" >"$state/$name.cfg"
    cmp -s <(copy_cfg "$name" "$port") "$state/$name.cfg" && [ "$name" != pier-file ] &&
      { echo "$name: the edit changed nothing" >&2; exit 1; }
    start_arm "$name" "$state/$name.cfg" "$port" "$state/$name.sock" "$pier_backend"
  }
  # The same, with its servers added through the Runtime API the way the agent adds them
  # (services/agent/lb_update.cpp add_server) plus idle-connection pooling, which servers added that way
  # lack in HAProxy 2.6 unless asked (each request then opens a new backend connection).
  dyn_variant() {  # name sed-args...
    local name=$1 port s target address pool="pool-max-conn -1 pool-purge-delay 5s" cmds=()
    shift
    wanted "$name" || return 0
    port=$(free_port)
    copy_cfg "$name" "$port" -e '/^\s*server /d' "$@" >"$state/$name.cfg"
    for s in "${servers[@]}"; do
      target=$pier_backend/${s% *} address=${s#* }
      cmds+=("add server $target $address check inter $inter rise $rise fall $fall $pool" "enable health $target"
             "enable server $target; set server $target health down"
             "add server ${target}_failopen $address backup $pool" "enable server ${target}_failopen")
    done
    start_arm "$name" "$state/$name.cfg" "$port" "$state/$name.sock" "$pier_backend" "${cmds[@]}"
    dyn_socks+=("$state/$name.sock")
  }
  read -r inter rise fall < <(awk '$1 == "default-server" {print $3, $5, $7}' "$pier_cfg")
  dyn_socks=()
  log_line='^\(\s*log unix@\S* len [0-9]* format raw\)'
  variant pier-file  # the same text; its servers are read from the file, as after a reload or restart
  dyn_variant pier-dyn-pool
  variant no-request-log -e '/^\s*log unix@/d' -e '/^\s*option httplog$/d'
  variant request-log-1in10 -e "s/$log_line/\1 sample 1:10/"
  variant no-forwardfor -e '/^\s*option forwardfor$/d'
  variant no-l7-retry -e '/^\s*retry-on /d' -e '/^\s*http-request disable-l7-retry /d'
  variant no-checks -e '/^\s*option httpchk /d' -e 's/^\(\s*server .*\) check$/\1/'
  variant no-failopen-twins -e '/^\s*server \S*_failopen /d' -e '/^\s*option allbackups$/d'
  variant no-redispatch -e '/^\s*option redispatch /d' -e '/^\s*retries /d'
  if grep -q 'option idle-close-on-response' "$pier_cfg"; then
    variant no-idle-close -e '/^\s*option idle-close-on-response$/d'
  else
    variant idle-close -e 's/^\(\s*option forwardfor\)$/\1\n    option idle-close-on-response/'
  fi
  dyn_variant pier-dyn-pool-log-1in10 -e "s/$log_line/\1 sample 1:10/"
  variant all-left-out -e '/^\s*log unix@/d' -e '/^\s*option httplog$/d' -e '/^\s*option forwardfor$/d' \
    -e '/^\s*retry-on /d' -e '/^\s*http-request disable-l7-retry /d' -e '/^\s*option httpchk /d' \
    -e 's/^\(\s*server .*\) check$/\1/' -e '/^\s*server \S*_failopen /d' -e '/^\s*option allbackups$/d' \
    -e '/^\s*option redispatch /d' -e '/^\s*retries /d' -e '/^\s*option idle-close-on-response$/d'
  deadline=$((SECONDS + 30))
  for sock in "${dyn_socks[@]}"; do
    until [ "$(checked_up "$sock" $pier_backend)" = "$replicas $replicas" ]; do
      [ $SECONDS -lt $deadline ] || { echo "$sock: servers never all UP" >&2; exit 1; }
      sleep 0.3
    done
  done
fi

threads() { awk '/^Threads:/ {print $2}' "/proc/$(worker_of "$1")/status"; }
echo "backend $backend x$replicas; haproxy $haproxy_version, worker threads: pier $(threads "${arm_masters[0]}")," \
  "minimal $(threads "${arm_masters[1]}"); $workers clients, $round_ms ms per round, $rounds rounds"
agent=$(cat "$state/pids/agent.pid")
tick_us=$((1000000 / $(getconf CLK_TCK)))

# One measurement: arm index, kind (keepalive | fresh), round -> a line of results.tsv: arm, kind, round,
# req/s, p50, p99, failed, and the CPU time per request of the arm's HAProxy worker and of pier-agent
# (which reads pier's request log), in microseconds.
measure() {
  local i=$1 kind=$2 ka=0 fresh=0 worker json hap0 agent0
  [ "$kind" = keepalive ] && ka=$workers || fresh=$workers
  worker=$(worker_of "${arm_masters[$i]}")
  hap0=$(cpu_ticks "$worker") agent0=$(cpu_ticks "$agent")
  json=$("$bin/pier-load" --port "${arm_ports[$i]}" --keepalive "$ka" --fresh "$fresh" --requests 5000000 \
    --duration-ms "$round_ms" --timeout-ms 2000 --output json)
  python3 -c '
import json, sys
r = json.load(sys.stdin)
name, kind, round_, hap, agent, tick_us = sys.argv[1:]
per_request = lambda ticks: round(int(ticks) * int(tick_us) / max(r["sent"], 1), 1)
print(name, kind, round_, round(r["requests_per_second"]), round(r["p50_ms"], 3), round(r["p99_ms"], 3),
      r["non_2xx"] + r["socket_errors"], per_request(hap), per_request(agent), sep="\t")' "${arm_names[$i]}" "$kind" "$3" \
    $(($(cpu_ticks "$worker") - hap0)) $(($(cpu_ticks "$agent") - agent0)) "$tick_us" <<<"$json"
}
for i in "${!arm_names[@]}"; do  # warm-up: every arm answers, caches and pools filled; not counted
  "$bin/pier-load" --port "${arm_ports[$i]}" --keepalive 2 --fresh 0 --requests 20000 --duration-ms 500 >/dev/null
done
for kind in "${kinds[@]}"; do
  for round in $(seq 1 "$rounds"); do
    order=("${!arm_names[@]}")
    [ $((round % 2)) = 0 ] && mapfile -t order < <(printf '%s\n' "${order[@]}" | tac)  # swap the order
    for i in "${order[@]}"; do
      line=$(measure "$i" "$kind" "$round")
      echo "$line" >>"$state/results.tsv"
      echo "$line" | awk -F'\t' '{printf "round %s %-9s %-23s %6s req/s  p50 %6.3f ms  p99 %6.3f ms  failed %s  cpu us/req haproxy %5.1f agent %5.1f\n", $3, $2, $1, $4, $5, $6, $7, $8, $9}'
    done
  done
done

for i in "${!arm_names[@]}"; do
  echo "${arm_names[$i]}: backend connections opened/reused $(reuse "${arm_socks[$i]}" "${arm_backends[$i]}" | tr ' ' /)"
done
python3 - "$state/results.tsv" "$backend" "$workers" "$round_ms" "$rounds" <<'PY'
import collections, statistics, sys
path, backend, workers, round_ms, rounds = sys.argv[1:]
runs = collections.defaultdict(dict)  # (arm, kind) -> round -> (req/s, p99, failed, haproxy us, agent us)
for line in open(path):
    arm, kind, round_, rps, p50, p99, failed, hap_us, agent_us = line.rstrip("\n").split("\t")
    runs[(arm, kind)][round_] = (float(rps), float(p99), int(failed), float(hap_us), float(agent_us))
kinds = [k for k in ("keepalive", "fresh") if ("pier", k) in runs]
arms = list(dict.fromkeys(a for a, _ in runs))
med = statistics.median
def column(arm, kind, i): return [x[i] for x in runs[(arm, kind)].values()]
def ratio(arm, kind, i): return med(column(arm, kind, i)) / med(column("minimal", kind, i))
def paired(arm, kind, i):  # the median of the ratios of rounds run side by side
    base = runs[("minimal", kind)]
    return med(x[i] / base[r][i] for r, x in runs[(arm, kind)].items())
print(f"\nmedian [range] over {rounds} rounds of {round_ms} ms; ratio to minimal: of the medians "
      "(median of same-round ratios); CPU time per request")
for kind in kinds:
    print(kind)
    for arm in arms:
        rps, p99 = column(arm, kind, 0), column(arm, kind, 1)
        print(f"  {arm:23s} {med(rps):6.0f} req/s [{min(rps):.0f}-{max(rps):.0f}]  p99 {med(p99):.3f} ms "
              f"[{min(p99):.3f}-{max(p99):.3f}]  failed {sum(column(arm, kind, 2))}  "
              f"ratio req/s {ratio(arm, kind, 0):.3f} ({paired(arm, kind, 0):.3f}) "
              f"p99 {ratio(arm, kind, 1):.3f} ({paired(arm, kind, 1):.3f})  "
              f"us/req haproxy {med(column(arm, kind, 3)):.1f} agent {med(column(arm, kind, 4)):.1f}")
print()
print("| date | backend | clients | pier req/s | minimal req/s | req/s ratio (>= 0.97) | pier p99 | minimal p99 "
      "| p99 ratio (<= 1.05) | CPU us/req pier (haproxy + agent) / minimal |")
print("|---|---|---|---|---|---|---|---|---|---|")
for kind in kinds:
    c = lambda arm, i: med(column(arm, kind, i))
    print(f"| DATE | {backend} x4 | {workers} {'keep-alive' if kind == 'keepalive' else 'new-connection'} | "
          f"{c('pier', 0):.0f} | {c('minimal', 0):.0f} | **{ratio('pier', kind, 0):.3f}** | {c('pier', 1):.2f} ms | "
          f"{c('minimal', 1):.2f} ms | **{ratio('pier', kind, 1):.3f}** | "
          f"{c('pier', 3):.0f} + {c('pier', 4):.0f} / {c('minimal', 3):.0f} |")
PY
