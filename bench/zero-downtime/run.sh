#!/usr/bin/env bash
# bench/zero-downtime: the same changes under the same load, once with pier's Runtime-API membership
# (`--lb-apply runtime`, the default) and once reloading HAProxy on every change (`--lb-apply reload`,
# what reload-based balancers do), in the same run. Changes: EVENTS scale events alternating 2 <-> 6
# replicas, then a rolling redeploy (a new env value), then a new external port, then an algorithm change. Load: pier-load through HAProxy, 2
# keep-alive + 2 new-connection workers at 100 req/s each, for the whole sequence. Prints failed
# requests, p99 latency and reloads for both, and the ratios.
#   run.sh [EVENTS]   (default 40)   BUILD_DIR (default build)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
events=${1:-40}
[ "${PIER_SKIP_BUILD:-0}" = 1 ] || bash scripts/build.sh >/dev/null  # before BUILD_DIR exists on a fresh clone
build_dir=$(cd "${BUILD_DIR:-build}" && pwd)
bin=$build_dir/bin
version=$(sed -n 's/^project(pier VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run_mode() {  # mode network -> prints "failed sent p99_ms reloads runtime_updates"
  local mode=$1 state dev port port2 load_out
  state=$(mktemp -d /tmp/pier-bench-zd-XXXXXX)
  export PIER_BUS_PUB=tcp://127.0.0.1:$(free_port) PIER_BUS_SUB=tcp://127.0.0.1:$(free_port)
  PIER_LB_APPLY=$mode "$bin/pier" dev --state-dir "$state" --metrics-listen 127.0.0.1:$(free_port) \
    --stats-port $(free_port) --platform-network "$2" >"$state/dev.out" 2>&1 &
  dev=$!
  trap "kill -INT $dev 2>/dev/null; wait $dev 2>/dev/null; rm -rf $state" EXIT  # run_mode runs in a subshell
  local deadline=$((SECONDS + 60))
  # The bus's endpoints and, on pier dev's CURVE bus, the operator's key (written once the bus is up).
  until [ -f "$state/dev.env" ]; do [ $SECONDS -lt $deadline ] || { echo "no dev.env" >&2; return 1; }; sleep 0.1; done
  set -a; . "$state/dev.env"; set +a
  until "$bin/pier" hosts --output json --timeout 2 2>/dev/null | grep -q '"status": "up"'; do
    [ $SECONDS -lt $deadline ] || { echo "no agent" >&2; return 1; }
    sleep 0.3
  done
  port=$(free_port); port2=$(free_port)
  local deploy=("$bin/pier" deploy --name zd --image pier/demo-app --tag "$version" --command pier-demo-app
                --port "$port:8000" --replicas 2 --timeout 60)
  "${deploy[@]}" >/dev/null
  sleep 5  # both instances past their health checks (rise 2 x 2 s) before the load starts
  counters() { "$bin/pier" hosts --output json | python3 -c 'import json,sys; l=json.load(sys.stdin)[0]["lb"]; print(l["reloads"], l["runtime_updates"])'; }
  read -r reloads0 updates0 < <(counters)
  load_out=$state/load.json
  "$bin/pier-load" --port "$port" --keepalive 2 --fresh 2 --rate 100 --requests 100000000 \
    --duration-ms $((events * 600 + 15000)) --output json >"$load_out" &
  local load=$!
  sleep 1
  for i in $(seq 1 "$events"); do
    "$bin/pier" scale zd $([ $((i % 2)) = 1 ] && echo 6 || echo 2) --timeout 30 >/dev/null
  done
  deploy+=(--env RELEASE=2)
  "${deploy[@]}" >/dev/null  # a rolling redeploy: every instance replaced, one at a time
  "${deploy[@]}" --port "$port2:8000" >/dev/null
  "${deploy[@]}" --port "$port2:8000" --algorithm leastconn >/dev/null
  wait $load
  read -r reloads1 updates1 < <(counters)
  python3 - "$load_out" $((reloads1 - reloads0)) $((updates1 - updates0)) <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(r["non_2xx"] + r["socket_errors"], r["sent"], round(r["p99_ms"], 2), sys.argv[2], sys.argv[3])
PY
}

# One after the other: $( ) waits for the first stack to be stopped before the second starts.
runtime_figures=$(run_mode runtime 127.91.0.0/16)
reload_figures=$(run_mode reload 127.92.0.0/16)
read -r rt_failed rt_sent rt_p99 rt_reloads rt_updates <<<"$runtime_figures"
read -r rl_failed rl_sent rl_p99 rl_reloads rl_updates <<<"$reload_figures"
echo "events $events (2 <-> 6), then a rolling redeploy, a new port and an algorithm change"
echo "runtime: failed $rt_failed of $rt_sent, p99 $rt_p99 ms, reloads $rt_reloads, runtime updates $rt_updates"
echo "reload:  failed $rl_failed of $rl_sent, p99 $rl_p99 ms, reloads $rl_reloads, runtime updates $rl_updates"
python3 -c "print('p99 ratio runtime/reload: %.2f' % ($rt_p99 / $rl_p99 if $rl_p99 else float('nan')))"
