#!/usr/bin/env bash
# One step from a clean clone to pier running as a docker-compose stack: installs and builds
# (scripts/build.sh), makes sure a Docker daemon answers (scripts/dockerd.sh), makes the images
# (scripts/images.sh), makes the stack's keys (PIER_COMPOSE_KEYS, scripts/compose-env.sh) and the CLI's
# compose.env there, then `docker-compose up -d --build`. Idempotent; scripts/compose-down.sh undoes it.
#   BUILD_DIR         build folder (default: build)
#   PIER_SKIP_BUILD=1 use the binaries already in BUILD_DIR (CI that has just built them)
set -euo pipefail
cd "$(dirname "$0")/.."
export BUILD_DIR=${BUILD_DIR:-build}
[ "${PIER_SKIP_BUILD:-0}" = 1 ] || bash scripts/build.sh
source scripts/compose-env.sh
# The bus runs with keys: each service, the agent and the host's CLI (operator) speak CURVE with their own.
"$BUILD_DIR/bin/pier" keys init --dir "$PIER_COMPOSE_KEYS" --host "$PIER_COMPOSE_HOST_ID"
cat >"$PIER_COMPOSE_KEYS/compose.env" <<ENV
PIER_BUS_PUB=tcp://127.0.0.1:7701
PIER_BUS_SUB=tcp://127.0.0.1:7702
PIER_CURVE_SECRET=$PIER_COMPOSE_KEYS/operator.key
PIER_BUS_PUBLIC_KEY=$PIER_COMPOSE_KEYS/bus.pub
ENV
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
echo "the host's pier CLI, as operator: set -a; . $PIER_COMPOSE_KEYS/compose.env; set +a"
