#!/usr/bin/env bash
# bench/faults: runs the fault e2e tests (tests/e2e/faults_test.cpp, control_faults_test.cpp,
# saturation_test.cpp) and turns their "[ fault ]" lines into the Markdown table of bench/RESULTS.md: the
# fault, requests sent through HAProxy while it happened, how many failed, and the time until the system
# had converged again.
#   run.sh        BUILD_DIR (default build); FILTER: a gtest filter (default every test, e.g.
#                 FILTER='Saturation*' for the saturation rows only)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
build_dir=${BUILD_DIR:-build}
bash scripts/build.sh >/dev/null
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$build_dir/bin/e2e_fault_tests" --gtest_filter="${FILTER:-*}" 2>&1 | tee "$out" | grep -E '^\[ *(OK|FAILED|fault|measured) ' || true
echo
echo "| fault | requests sent | failed | converged (ms) | notes |"
echo "|---|---|---|---|---|"
sed -n 's/^\[ fault \] \(.*\) | sent \([0-9]*\) | failed \([0-9]*\) | converged_ms \(-\?[0-9]*\) | \(.*\)$/| \1 | \2 | \3 | \4 | \5 |/p' "$out"
grep -q '^\[  FAILED  \]' "$out" && { echo "some fault tests failed" >&2; exit 1; }
exit 0
