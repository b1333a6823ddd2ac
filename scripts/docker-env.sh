# Sourced by pier's docker scripts: which docker client to use, and how builds run.
#
# The client: /usr/bin/docker (Debian's docker.io, the same version as the daemon it installs) when
# present, else `docker` on PATH; DOCKER overrides. The scripts use only long-stable subcommands
# (info, image inspect, import, build, rm), so either client works against the daemon.
#
# Builds use the classic builder through the Engine API (DOCKER_BUILDKIT=0), and docker-compose
# builds through its own API client rather than by calling whichever `docker` is on PATH
# (COMPOSE_DOCKER_CLI_BUILD=0): the FROM lines name local images (pier/base), which the classic
# builder finds in the daemon's store without any registry.
if [ -z "${DOCKER:-}" ]; then
  if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi
fi
export DOCKER
export DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0
