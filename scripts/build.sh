#!/usr/bin/env bash
# Installs what is missing, configures once, builds. Fast when nothing changed.
#   scripts/build.sh [TARGET...]   only these targets (scripts/demo.sh: pier-stack); default: everything
#   BUILD_DIR   build folder (default: build)
#   PIER_SANITIZE=1   AddressSanitizer + UndefinedBehaviorSanitizer build (Debug: it compiles faster and
#                     the sanitizers see more)
#   PIER_E2E_TESTS=0  leave the whole-stack tests out of the build
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
build_dir=${BUILD_DIR:-build}
sanitize=${PIER_SANITIZE:-0}
# ccache keys on paths relative to the checkout, so a clone in another folder (CI's) reuses what an
# earlier build compiled: a cold 2-core build of both trees took 43 min of CI's 90, a warm one minutes.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(pwd)} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
if [ ! -f "$build_dir/build.ninja" ]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$([ "$sanitize" = 1 ] && echo Debug || echo RelWithDebInfo)" \
    -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DPIER_SANITIZE="$([ "$sanitize" = 1 ] && echo ON || echo OFF)" \
    -DPIER_E2E_TESTS="$([ "${PIER_E2E_TESTS:-1}" = 1 ] && echo ON || echo OFF)" >/dev/null
fi
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build "$build_dir" -j "$(nproc)" "${targets[@]}"
