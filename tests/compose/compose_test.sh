#!/usr/bin/env bash
# pier as a docker-compose stack: scripts/compose-up.sh brings it up from locally made images, the host's
# `pier` CLI deploys the demo image through it, a request through HAProxy answers, and
# scripts/compose-down.sh leaves no pier container behind. Every wait is bounded.
#   compose_test.sh BUILD_DIR
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=$(cd "${1:?usage: compose_test.sh BUILD_DIR}" && pwd)
cd "$repo"
source scripts/docker-env.sh
export BUILD_DIR=$build_dir PIER_SKIP_BUILD=1 PIER_KEEP_DOCKERD=1
export PIER_BUS_PUB=tcp://127.0.0.1:7701 PIER_BUS_SUB=tcp://127.0.0.1:7702
pier=$build_dir/bin/pier
version=$(sed -n 's/^project(pier VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
project=pier-compose-test
export COMPOSE_PROJECT_NAME=$project
port=18181

# The stack's keys in a folder of this test's own (compose-up makes them there).
keys_parent=$(mktemp -d /tmp/pier-compose-test.XXXXXX)
export PIER_COMPOSE_KEYS=$keys_parent/keys

fail() { echo "compose_test: FAIL: $*" >&2; bash scripts/compose.sh logs --tail 30 >&2 || true; exit 1; }
cleanup() {
  bash scripts/compose-down.sh -v >/dev/null 2>&1 || true
  rm -rf "$keys_parent"
}
trap cleanup EXIT

# Waits up to $1 seconds for the command after it to succeed.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.5
  done
}

if ! curl -fsS --max-time 2 --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null 2>&1; then
  [ -n "${PIER_REQUIRE_DOCKER:-}" ] && fail "no docker daemon on /var/run/docker.sock"
  echo "compose_test: no docker daemon: skipped"
  exit 77
fi
bash scripts/compose-up.sh
# The host's CLI speaks to the stack's bus as its operator key (compose-up made the keys).
source scripts/compose-env.sh
export PIER_CURVE_SECRET=$PIER_COMPOSE_KEYS/operator.key PIER_BUS_PUBLIC_KEY=$PIER_COMPOSE_KEYS/bus.pub
wait_for 60 "$pier" ps --timeout 3 || fail "the bus/registry in compose never answered the host's pier ps"
one_host() { [ "$("$pier" hosts --output json --timeout 3 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 1 ]; }
wait_for 60 one_host || fail "the compose agent never registered"
"$pier" hosts

"$pier" deploy --name composeweb --image pier/demo-app --tag "$version" --port "$port:8000" --replicas 2 \
  --timeout 90 || fail "pier deploy through the compose stack"
answer=$(curl -fsS --max-time 5 "http://127.0.0.1:$port/") || fail "no answer through HAProxy on :$port"
echo "answer: $answer"
case "$answer" in *"instance=composeweb-"*) ;; *) fail "unexpected answer: $answer" ;; esac

bash scripts/compose-down.sh -v
rm -rf "$keys_parent"
trap - EXIT
left=$("$DOCKER" ps -aq --filter "label=com.docker.compose.project=$project"; "$DOCKER" ps -aq --filter label=pier.app=composeweb)
[ -z "$left" ] || fail "containers left after compose down: $left"
echo "compose_test: PASS"
