#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit, end-to-end, docker) with ctest.
# Extra arguments go to ctest (e.g. -L unit, -R Registry, -LE docker).
#   PIER_DOCKER_TESTS=0   do not start a docker daemon nor build the demo image (docker tests then skip)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
build_dir=${BUILD_DIR:-build}
if [ "${PIER_DOCKER_TESTS:-1}" = 1 ]; then
  # The docker tests need a daemon and the demo image; started and made here, required from here on.
  bash scripts/dockerd.sh start
  trap 'bash scripts/dockerd.sh stop' EXIT
  BUILD_DIR=$build_dir PIER_IMAGES=demo bash scripts/images.sh
  export PIER_REQUIRE_DOCKER=1
fi
ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)" "$@"
