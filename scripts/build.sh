#!/usr/bin/env bash
# Installs what is missing, configures once, builds. Fast when nothing changed.
#   BUILD_DIR   build folder (default: build)
#   PIER_SANITIZE=1   AddressSanitizer + UndefinedBehaviorSanitizer build
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
build_dir=${BUILD_DIR:-build}
sanitize=${PIER_SANITIZE:-0}
if [ ! -f "$build_dir/build.ninja" ]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DPIER_SANITIZE="$([ "$sanitize" = 1 ] && echo ON || echo OFF)" >/dev/null
fi
cmake --build "$build_dir" -j "$(nproc)"
