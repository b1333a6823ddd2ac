#!/usr/bin/env bash
# bench/lb-latency: time from an instance reported running at the agent to its server serving in
# HAProxy, with the Runtime API (`--lb-apply runtime`, the default) and with a reload on every change
# (`--lb-apply reload`), in the same run. Changes: UPS scale events 1 -> 5 of the demo app (each adds 4
# instances), each followed by a scale back to 1, per mode.
#
# Both ends are lines of the agent's own log (ms timestamps, one clock, one process):
#   "instance X of app A on host H running at ..."   the reconciler marks it running (and heartbeats)
#   "instance X of app A serving in haproxy ..."     HAProxy reports the server UP and enabled right
#                                                     after the Runtime API commands (runtime), or the
#                                                     new worker has loaded the config with it (reload)
# The hops in between come from the registry's and lbgen's logs (same machine, same wall clock).
# Prints p50/p99/max per mode, the ratio runtime/reload, the hops, and a markdown table row.
#   run.sh [UPS]   (default 50: 200 additions per mode)   BUILD_DIR (default build)
#   KEEP_LOGS=DIR  keep each mode's logs in DIR/<mode>/ (default: deleted)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
ups=${1:-50}
build_dir=$(cd "${BUILD_DIR:-build}" && pwd)
[ "${PIER_SKIP_BUILD:-0}" = 1 ] || bash scripts/build.sh >/dev/null
bin=$build_dir/bin
version=$(sed -n 's/^project(pier VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
if [ -n "${KEEP_LOGS:-}" ]; then
  mkdir -p "$KEEP_LOGS"
  results=$(cd "$KEEP_LOGS" && pwd)
else
  results=$(mktemp -d /tmp/pier-bench-lat-XXXXXX)
  trap 'rm -rf "$results"' EXIT
fi

run_mode() {  # mode network -> the agent's, registry's and lbgen's logs in $results/<mode>/
  local mode=$1 state dev port
  state=$(mktemp -d /tmp/pier-bench-lat-XXXXXX)
  PIER_BUS_PUB=tcp://127.0.0.1:$(free_port)
  PIER_BUS_SUB=tcp://127.0.0.1:$(free_port)
  export PIER_BUS_PUB PIER_BUS_SUB
  PIER_LB_APPLY=$mode "$bin/pier" dev --state-dir "$state" --metrics-listen "127.0.0.1:$(free_port)" \
    --stats-port "$(free_port)" --platform-network "$2" ${PIER_DEV_ARGS:-} >"$state/dev.out" 2>&1 &
  dev=$!
  # shellcheck disable=SC2064  # expanded now, on purpose: run_mode runs in a subshell
  trap "kill -INT $dev 2>/dev/null; wait $dev 2>/dev/null; rm -rf $state" EXIT
  local deadline=$((SECONDS + 60))
  # The bus's endpoints and, on pier dev's CURVE bus, the operator's key (written once the bus is up).
  until [ -f "$state/dev.env" ]; do [ $SECONDS -lt $deadline ] || { echo "no dev.env" >&2; return 1; }; sleep 0.1; done
  set -a; . "$state/dev.env"; set +a
  until "$bin/pier" hosts --output json --timeout 2 2>/dev/null | grep -q '"status": "up"'; do
    [ $SECONDS -lt $deadline ] || { echo "no agent" >&2; return 1; }
    sleep 0.3
  done
  port=$(free_port)
  "$bin/pier" deploy --name lat --image pier/demo-app --tag "$version" --command pier-demo-app \
    --port "$port:8000" --replicas 1 --timeout 60 >/dev/null
  date +%Y-%m-%dT%H:%M:%S.%3N >"$state/logs/started"  # instances running from here on are measured
  deadline=$((SECONDS + 150))
  for _ in $(seq 1 "$ups"); do
    "$bin/pier" scale lat 5 --timeout 30 >/dev/null
    "$bin/pier" scale lat 1 --timeout 30 >/dev/null
    [ $SECONDS -lt $deadline ] || { echo "$mode: scale events took over 150 s" >&2; return 1; }
  done
  mkdir -p "$results/$mode"
  cp "$state/logs/started" "$state/logs/agent.log" "$state/logs/registry.log" "$state/logs/lbgen.log" "$results/$mode/"
}

# One after the other: ( ) waits for the first stack to be stopped before the second starts.
load_before=$(cut -d' ' -f1 /proc/loadavg)  # the machine is shared: say how busy it was
(run_mode runtime 127.181.0.0/16)
(run_mode reload 127.182.0.0/16)
load_after=$(cut -d' ' -f1 /proc/loadavg)
python3 - "$results" "$ups" "$load_before -> $load_after" <<'PY'
import math, re, sys
from datetime import datetime

root, ups, load = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ts = lambda line: datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f")
running_re = re.compile(r" instance (\S+) of app lat on host \S+ running at ")
serving_re = re.compile(r" instance (\S+) of app lat serving in haproxy backend \S+ \(([^,]+), config (\S+),")
registry_re = re.compile(r" instance (\S+) of app lat on host \S+: \S+ -> running")
lbgen_re = re.compile(r" host \S+: new config (\S+) at state revision")

def pct(values, p):
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]  # nearest rank

def first_times(path, regex, key=lambda m: m.group(1)):
    out = {}
    for line in open(path, errors="replace"):
        m = regex.search(line)
        if m and key(m) not in out:
            out[key(m)] = (ts(line), m)
    return out

figures = {}
for mode in ("runtime", "reload"):
    d = f"{root}/{mode}"
    started = datetime.strptime(open(f"{d}/started").read().strip(), "%Y-%m-%dT%H:%M:%S.%f")
    running = {k: v[0] for k, v in first_times(f"{d}/agent.log", running_re).items() if v[0] >= started}
    serving = first_times(f"{d}/agent.log", serving_re)
    registry = first_times(f"{d}/registry.log", registry_re)
    lbgen = first_times(f"{d}/lbgen.log", lbgen_re)
    total, hops, kinds, missing = [], {"agent->registry": [], "registry->lbgen": [], "lbgen->serving": []}, {}, 0
    for instance, t_run in running.items():
        if instance not in serving:
            missing += 1
            continue
        t_serve, m = serving[instance]
        kinds[m.group(2)] = kinds.get(m.group(2), 0) + 1
        total.append((t_serve - t_run).total_seconds() * 1000)
        if instance in registry and m.group(3) in lbgen:
            t_reg, t_gen = registry[instance][0], lbgen[m.group(3)][0]
            hops["agent->registry"].append((t_reg - t_run).total_seconds() * 1000)
            hops["registry->lbgen"].append((t_gen - t_reg).total_seconds() * 1000)
            hops["lbgen->serving"].append((t_serve - t_gen).total_seconds() * 1000)
    if not total:
        sys.exit(f"{mode}: no instance measured")
    figures[mode] = (len(total), pct(total, 50), pct(total, 99), max(total))
    print(f"{mode}: {ups} scale events 1 -> 5 -> 1, {len(total)} additions ({', '.join(f'{v} via {k}' for k, v in sorted(kinds.items()))}"
          f"{f', {missing} never served' if missing else ''}): p50 {figures[mode][1]:.0f} ms, "
          f"p99 {figures[mode][2]:.0f} ms, max {figures[mode][3]:.0f} ms")
    print("  hops p50/p99 ms: " + ", ".join(f"{k} {pct(v, 50):.0f}/{pct(v, 99):.0f}" for k, v in hops.items() if v))
rt, rl = figures["runtime"], figures["reload"]
ratio = lambda a, b: f"{a / b:.2f}" if b else "n/a"
print(f"p99 ratio runtime/reload: {ratio(rt[2], rl[2])} (p50: {ratio(rt[1], rl[1])}); target p99 <= 20 ms for runtime: "
      f"{'met' if rt[2] <= 20 else 'NOT met'}")
print()
print("| date | additions per mode | runtime p50 / p99 / max | reload p50 / p99 / max | p99 runtime/reload | load (1 min) |")
print("|---|---|---|---|---|---|")
print(f"| {datetime.now():%Y-%m-%d} | {rt[0]} / {rl[0]} | {rt[1]:.0f} / {rt[2]:.0f} / {rt[3]:.0f} ms "
      f"| {rl[1]:.0f} / {rl[2]:.0f} / {rl[3]:.0f} ms | **{ratio(rt[2], rl[2])}** | {load} |")
PY
