# Sourced by pier's compose scripts: what the stack's docker-compose.yml reads besides PIER_VERSION.
#   PIER_COMPOSE_HOST_ID  the agent's host id: this host's name, as the agent would make it
#   PIER_COMPOSE_KEYS     the stack's keys (the bus's, each service's, the agent's, operator), made by
#                         scripts/compose-up.sh with `pier keys init`; mounted read-only at /etc/pier/keys
export PIER_COMPOSE_HOST_ID=${PIER_COMPOSE_HOST_ID:-$(hostname | cut -d. -f1 | tr 'A-Z' 'a-z')}
export PIER_COMPOSE_KEYS=${PIER_COMPOSE_KEYS:-${HOME:-/root}/.config/pier/compose-${COMPOSE_PROJECT_NAME:-pier}}
