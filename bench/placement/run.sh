#!/usr/bin/env bash
# bench/placement: placements per second of the scheduler's pure place() on synthetic states (10, 100
# and 1,000 up hosts of 8 cpus / 32 GiB; 100 apps x 100 replicas of 0.25 cpu / 128 MiB, none placed),
# against the reference placement (the scheduler's before issue 16) in the same run; both must make the
# same plan (bench/RESULTS.md).
#   run.sh [ROUNDS]     BUILD_DIR (default build)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
build_dir=${BUILD_DIR:-build}
cmake --build "$build_dir" --target pier-placement-bench >/dev/null
"$build_dir/bin/pier-placement-bench" "${1:-5}"
