#!/usr/bin/env bash
# bench/bus/profile.sh: where a bus message's time goes. Runs one mode of pier-bus-bench alone under
# `perf record` (every process: the bench's publisher and subscriber, and pier-bus) and prints each
# process's share of the samples by library: libsodium is CURVE, pier-bus's own code is the proxy loop
# with its per-topic checks (bench/RESULTS.md).
#   profile.sh [MESSAGES] [MODE]    MODE secured (default), plaintext or raw; BUILD_DIR (default build)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
build_dir=${BUILD_DIR:-build}
command -v perf >/dev/null || bash scripts/bootstrap.sh linux-perf
cmake --build "$build_dir" --target pier-bus pier-bus-bench >/dev/null
data=$(mktemp /tmp/pier-bus-perf.XXXXXX)
trap 'rm -f "$data"' EXIT
perf record -q -F 2000 -o "$data" -- "$build_dir/bin/pier-bus-bench" 1 "${1:-200000}" "${2:-secured}"
echo "process   library   % of all samples"
perf script -i "$data" -F pid,comm,ip,dso 2>/dev/null | awk '
  { pid = $2; if ($1 == "pier-bus") bus = pid
    dso = $NF; gsub(/[()]/, "", dso); n = split(dso, part, "/"); dso = part[n]; sub(/\.so.*/, "", dso)
    total++; count[pid " " dso]++ }
  END { for (k in count) { split(k, a, " "); printf "%-9s %-18s %5.1f\n", (a[1] == bus ? "pier-bus" : "bench"), a[2], 100 * count[k] / total } }' |
  sort -k1,1 -k3,3nr | awk '{ sum[$1] += $3; print } END { for (p in sum) printf "%-9s %-18s %5.1f\n", p, "(all)", sum[p] }'
