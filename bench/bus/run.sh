#!/usr/bin/env bash
# bench/bus: messages per second through pier-bus with CURVE and per-topic checks, the same bus
# plaintext, and a raw cppzmq proxy, alternating in one run (bench/RESULTS.md).
#   run.sh [ROUNDS] [MESSAGES]     BUILD_DIR (default build)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
build_dir=${BUILD_DIR:-build}
cmake --build "$build_dir" --target pier-bus pier-bus-bench >/dev/null
"$build_dir/bin/pier-bus-bench" "${1:-3}" "${2:-200000}"
