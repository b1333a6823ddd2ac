#!/usr/bin/env bash
# bench/autoscale: runs the load-driven autoscaling e2e test (tests/e2e/autoscale_test.cpp,
# AutoscaleLoadTest) and turns its "[ timeline ]" lines into the Markdown table of bench/RESULTS.md:
# one row per second of the run with the requests sent, the request rate and replicas pier-metrics
# published, and the autoscaler's decisions recorded in that second.
#   run.sh        BUILD_DIR (default build); PIER_SKIP_BUILD=1 uses the build as it is
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
build_dir=${BUILD_DIR:-build}
[ "${PIER_SKIP_BUILD:-0}" = 1 ] || bash scripts/build.sh >/dev/null
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$build_dir/bin/e2e_autoscale_tests" --gtest_filter='AutoscaleLoadTest.*' 2>&1 | tee "$out" |
  grep -E '^\[ *(OK|FAILED|measured) ' || true
echo
echo "| t (s) | sent (req/s) | rate seen by pier-metrics (req/s) | replicas wanted | running | load | decisions (old->new rule) |"
echo "|---|---|---|---|---|---|---|"
sed -n 's/^\[ timeline \] \(.*\)$/| \1 |/p' "$out"
grep -q '^\[  FAILED  \]' "$out" && { echo "the autoscale test failed" >&2; exit 1; }
exit 0
