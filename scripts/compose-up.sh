#!/usr/bin/env bash
# One step from a clean clone to pier running as a docker-compose stack: installs and builds
# (scripts/build.sh), makes sure a Docker daemon answers (scripts/dockerd.sh), makes the images
# (scripts/images.sh), then `docker-compose up -d --build`. Idempotent; scripts/compose-down.sh undoes it.
#   BUILD_DIR         build folder (default: build)
#   PIER_SKIP_BUILD=1 use the binaries already in BUILD_DIR (CI that has just built them)
set -euo pipefail
cd "$(dirname "$0")/.."
export BUILD_DIR=${BUILD_DIR:-build}
[ "${PIER_SKIP_BUILD:-0}" = 1 ] || bash scripts/build.sh
bash scripts/dockerd.sh start
# The service images are built by docker-compose below (it would not reuse a build by the docker
# client: the two send the context differently and miss each other's cache).
PIER_IMAGES="base demo" bash scripts/images.sh
services=(bus registry scheduler lbgen metrics agent)
if [ ! -x "$BUILD_DIR/bin/pier-agent" ]; then
  echo "compose-up: $BUILD_DIR/bin/pier-agent is not built; the stack runs without the agent" >&2
  services=("${services[@]/agent}")
fi
bash scripts/compose.sh up -d --build --remove-orphans ${services[*]}
bash scripts/compose.sh ps
