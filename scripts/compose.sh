#!/usr/bin/env bash
# Runs docker-compose on pier's stack (docker-compose.yml) with PIER_VERSION set from CMakeLists.txt
# and builds through the Engine API (scripts/docker-env.sh). Examples:
#   scripts/compose.sh ps        scripts/compose.sh logs -f registry
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/docker-env.sh
source scripts/compose-env.sh
PIER_VERSION=$(sed -n 's/^project(pier VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
export PIER_VERSION
exec docker-compose -p "${COMPOSE_PROJECT_NAME:-pier}" -f docker-compose.yml "$@"
