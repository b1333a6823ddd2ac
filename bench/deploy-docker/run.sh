#!/usr/bin/env bash
# bench/deploy-docker: time from `pier deploy` of 10 replicas of the demo image to all 10 serving
# through HAProxy (the CLI returns only then; a request through HAProxy checks it), against
# `docker-compose up -d --scale web=10` of the same image (no load balancing), alternating, in the
# same run. A third figure is the floor: the same containers made straight through the Engine API in
# parallel until each answers. Prints each round and the median ratios.
#   run.sh [ROUNDS]   (default 5)   BUILD_DIR (default build)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
rounds=${1:-5}
replicas=10
source scripts/docker-env.sh
bash scripts/build.sh >/dev/null  # before BUILD_DIR exists on a fresh clone
build_dir=$(cd "${BUILD_DIR:-build}" && pwd)
bash scripts/dockerd.sh start
BUILD_DIR=$build_dir PIER_IMAGES=demo bash scripts/images.sh >/dev/null
version=$(sed -n 's/^project(pier VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
export PIER_VERSION=$version
pier=$build_dir/bin/pier

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_ms() { date +%s%3N; }

state=$(mktemp -d /tmp/pier-bench-docker-XXXXXX)
export PIER_BUS_PUB=tcp://127.0.0.1:$(free_port) PIER_BUS_SUB=tcp://127.0.0.1:$(free_port)
host_id=bench-docker
"$pier" dev --state-dir "$state" --runtime docker --host-id "$host_id" --docker-network 10.77.0.0/16 \
  --platform-network 127.77.0.0/16 --metrics-listen 127.0.0.1:$(free_port) --stats-port $(free_port) \
  >"$state/dev.out" 2>&1 &
dev=$!
compose=(docker-compose -p pier-bench-compose -f bench/deploy-docker/compose.yml)
cleanup() {
  kill -INT $dev 2>/dev/null || true
  wait $dev 2>/dev/null || true
  "${compose[@]}" down -t 1 >/dev/null 2>&1 || true
  "$DOCKER" network rm "pier-$host_id" >/dev/null 2>&1 || true
  "$DOCKER" rm -f $("$DOCKER" ps -aq --filter label=pier.bench=floor) >/dev/null 2>&1 || true
  "$DOCKER" network rm pier-bench-floor >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT
deadline=$((SECONDS + 60))
# The bus's endpoints and, on pier dev's CURVE bus, the operator's key (written once the bus is up).
until [ -f "$state/dev.env" ]; do [ $SECONDS -lt $deadline ] || { echo "no dev.env" >&2; exit 1; }; sleep 0.1; done
set -a; . "$state/dev.env"; set +a
until [ "$("$pier" hosts --output json --timeout 3 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null)" = 1 ]; do
  [ $SECONDS -lt $deadline ] || { echo "the agent never registered" >&2; exit 1; }
  sleep 0.5
done

"$DOCKER" network create --subnet 10.79.0.0/24 pier-bench-floor >/dev/null
pier_times=() compose_times=() floor_times=()
for round in $(seq 1 "$rounds"); do
  port=$(free_port)
  start=$(now_ms)
  "$pier" deploy --name bench --image pier/demo-app --tag "$version" --port "$port:8000" --replicas $replicas \
    --cpu 0.1 --memory 32m --timeout 120 >/dev/null
  took=$(( $(now_ms) - start ))
  curl -fsS --max-time 5 "http://127.0.0.1:$port/" | grep -q "instance=bench-" || { echo "no answer through HAProxy" >&2; exit 1; }
  pier_times+=("$took")
  "$pier" rm bench --timeout 120 >/dev/null
  # Let the removed containers finish stopping so both sides start from an idle daemon.
  deadline=$((SECONDS + 30))
  while [ -n "$("$DOCKER" ps -q --filter "label=pier.host=$host_id")" ] && [ $SECONDS -lt $deadline ]; do sleep 0.2; done

  start=$(now_ms)
  "${compose[@]}" up -d --scale web=$replicas >/dev/null 2>&1
  took=$(( $(now_ms) - start ))
  [ "$("$DOCKER" ps -q --filter label=com.docker.compose.project=pier-bench-compose | wc -l)" = $replicas ] || { echo "compose did not start $replicas" >&2; exit 1; }
  compose_times+=("$took")
  "${compose[@]}" down -t 1 >/dev/null 2>&1

  # The floor: the same ten containers made and started straight through the Engine API, in parallel,
  # until each answers on its port (what any orchestrator on this daemon pays at the least).
  start=$(now_ms)
  makers=()
  for i in $(seq 2 $((replicas + 1))); do
    (id=$(curl -fsS --unix-socket /var/run/docker.sock -H 'Content-Type: application/json' \
        -d "{\"Image\":\"pier/demo-app:$version\",\"Env\":[\"HOST=10.79.0.$i\",\"PORT=8000\"],\"Labels\":{\"pier.bench\":\"floor\"},\"HostConfig\":{\"NetworkMode\":\"pier-bench-floor\"},\"NetworkingConfig\":{\"EndpointsConfig\":{\"pier-bench-floor\":{\"IPAMConfig\":{\"IPv4Address\":\"10.79.0.$i\"}}}}}" \
        "http://localhost/v1.41/containers/create" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Id"])')
     curl -fsS -X POST --unix-socket /var/run/docker.sock "http://localhost/v1.41/containers/$id/start") &
    makers+=($!)
  done
  wait "${makers[@]}"  # these only: a bare `wait` would also wait for `pier dev`
  for i in $(seq 2 $((replicas + 1))); do
    deadline=$((SECONDS + 30))
    until curl -s -o /dev/null --max-time 0.2 "http://10.79.0.$i:8000/"; do
      [ $SECONDS -lt $deadline ] || { echo "floor container 10.79.0.$i never answered" >&2; exit 1; }
      sleep 0.01
    done
  done
  floor_times+=($(( $(now_ms) - start )))
  "$DOCKER" rm -f $("$DOCKER" ps -aq --filter label=pier.bench=floor) >/dev/null
  echo "round $round: pier ${pier_times[-1]} ms, docker-compose ${compose_times[-1]} ms, engine floor ${floor_times[-1]} ms"
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
p=$(median "${pier_times[@]}") c=$(median "${compose_times[@]}") f=$(median "${floor_times[@]}")
echo "median over $rounds rounds: pier deploy $replicas replicas to serving through HAProxy $p ms;" \
  "docker-compose up --scale web=$replicas $c ms; ratio $(awk -v p="$p" -v c="$c" 'BEGIN { printf "%.2f", p / c }');" \
  "engine floor $f ms (pier / floor $(awk -v p="$p" -v f="$f" 'BEGIN { printf "%.2f", p / f }'))"
