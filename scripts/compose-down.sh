#!/usr/bin/env bash
# Stops pier's docker-compose stack and removes its containers, then the instance containers and
# networks the agent made (labelled pier.host), then the Docker daemon if scripts/dockerd.sh started
# it. The named volumes (registry, metrics and agent state) and the keys (PIER_COMPOSE_KEYS) stay; pass
# --volumes to remove the volumes too.
#   PIER_KEEP_DOCKERD=1   leave a daemon that scripts/dockerd.sh started running
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/docker-env.sh
source scripts/compose-env.sh
if bash scripts/dockerd.sh status >/dev/null; then
  bash scripts/compose.sh down --remove-orphans "$@"
  # The agent's containers are not compose's: they outlive the agent by design (the data plane
  # keeps serving), so the stack's down removes them here.
  # The compose agent runs in the host's network namespace, so its host id is this host's name.
  host_id=$PIER_COMPOSE_HOST_ID
  containers=$("$DOCKER" ps -aq --filter "label=pier.host=$host_id")
  [ -z "$containers" ] || "$DOCKER" rm -f $containers >/dev/null
  networks=$("$DOCKER" network ls -q --filter "label=pier.host=$host_id")
  [ -z "$networks" ] || "$DOCKER" network rm $networks >/dev/null
fi
[ "${PIER_KEEP_DOCKERD:-0}" = 1 ] || bash scripts/dockerd.sh stop
