#!/usr/bin/env bash
# bench/fleet: requests per second and p99 latency from a client through h1's HAProxy to instances on
# other hosts of a namespace fleet (tests/fleet/fleet.h: h1 and h2 on one LAN, h3 across a router), over
# pier's overlay against the same namespaces routed by hand with plain routes, in the same run. Arms:
# far (instances on h3: VXLAN across the router) and near (instances on h2: VXLAN on one LAN; then, in a
# second fleet whose agents run --overlay host-gw, host-gw), each against plain routing of the same path.
# Rounds alternate overlay and plain (the order swaps every round), each ROUND_MS of load after an
# uncounted warm-up: closed-loop unpaced keep-alive clients (capacity: req/s), then the same clients paced
# at PACED_RATE req/s each (latency below saturation: p99). Backends: HAProxy processes deployed through pier's exec runtime
# that answer a fixed 200 themselves (BACKEND=demo: pier-demo-app). Target (issue 13): overlay >= 0.9x
# the req/s and <= 1.1x the p99 of plain routing. Needs root (network namespaces; nothing is changed in
# the root namespace) and about 5 minutes.
#   run.sh [ROUNDS]   (default 5)   BUILD_DIR (default build), PIER_SKIP_BUILD=1 (use BUILD_DIR as is),
#   WORKERS (clients, default 4), ROUND_MS (default 3000), KINDS (of keepalive,fresh,paced; default
#   keepalive,paced), PACED_RATE (default 250), MODES (vxlan,host-gw; default both), BACKEND (haproxy | demo)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
rounds=${1:-5}
[ "$(id -u)" = 0 ] || { echo "bench/fleet needs root (network namespaces)" >&2; exit 2; }
if [ "${PIER_SKIP_BUILD:-0}" != 1 ]; then
  bash scripts/build.sh >/dev/null  # configures BUILD_DIR (default build) and builds everything
fi
build_dir=$(cd "${BUILD_DIR:-build}" && pwd)
[ -x "$build_dir/bin/pier-fleet-bench" ] || cmake --build "$build_dir" --target pier-fleet-bench >/dev/null
echo "haproxy $(haproxy -v | sed -n '1s/^HAProxy version \([0-9.]*\).*/\1/p'), kernel $(uname -r), $(nproc) cores"
# The driver removes its namespaces on exit and on SIGINT/SIGTERM (after the measurement under way).
exec "$build_dir/bin/pier-fleet-bench" --rounds "$rounds" --round-ms "${ROUND_MS:-3000}" --workers "${WORKERS:-4}" \
  --kinds "${KINDS:-keepalive,paced}" --paced-rate "${PACED_RATE:-250}" --modes "${MODES:-vxlan,host-gw}" --backend "${BACKEND:-haproxy}"
