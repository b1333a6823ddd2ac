#!/usr/bin/env bash
# Makes sure a Docker daemon answers on /var/run/docker.sock, and stops only a daemon it started.
#   dockerd.sh start    nothing to do when a daemon answers; else starts
#                       `dockerd --iptables=false --ip-masq=false --bridge=none` in the background
#                       (log: $PIER_DOCKERD_LOG) and waits up to 30 s for the socket to answer
#   dockerd.sh stop     stops the daemon this script started (pid file), and nothing else
#   dockerd.sh status   says whether a daemon answers and whether this script started it
# Idempotent. Needs root to start or stop a daemon (uses sudo when not root).
#   PIER_DOCKERD_ARGS     more dockerd flags (a second daemon for a test: -H, --data-root, --exec-root...)
#   PIER_DOCKER_SOCKET    the socket to ask (default /var/run/docker.sock)
set -euo pipefail

socket=${PIER_DOCKER_SOCKET:-/var/run/docker.sock}
state_dir=${PIER_DOCKERD_STATE:-/var/run/pier}
pid_file=$state_dir/dockerd.pid
log_file=${PIER_DOCKERD_LOG:-/var/log/pier-dockerd.log}
wait_s=30

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

# Asks the Engine API itself (GET /_ping over the unix socket), so the answer does not depend on
# which docker client is on PATH or whether one is installed.
daemon_answers() {
  [ -S "$socket" ] && curl -fsS --max-time 2 --unix-socket "$socket" http://localhost/_ping >/dev/null 2>&1
}

started_pid() {
  [ -f "$pid_file" ] || return 1
  local pid
  pid=$(cat "$pid_file")
  # The pid must still be a dockerd, or it is a stale file (reboot, crash, pid reuse).
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] && echo "$pid"
}

start() {
  if daemon_answers; then
    echo "dockerd: a daemon already answers on $socket"
    return 0
  fi
  if pid=$(started_pid); then
    echo "dockerd: pid $pid (ours) runs but does not answer yet; waiting"
  else
    command -v dockerd >/dev/null || { echo "dockerd: not installed (scripts/bootstrap.sh installs docker.io)" >&2; exit 1; }
    "${sudo_cmd[@]}" mkdir -p "$state_dir" "$(dirname "$log_file")"
    # setsid: the daemon outlives this shell and the terminal's signals.
    "${sudo_cmd[@]}" sh -c 'log=$1 pid=$2; shift 2
      setsid dockerd --iptables=false --ip-masq=false --bridge=none "$@" >>"$log" 2>&1 </dev/null &
      echo $! >"$pid"' sh "$log_file" "$pid_file" ${PIER_DOCKERD_ARGS:-}
    echo "dockerd: started pid $(cat "$pid_file"), log $log_file"
  fi
  for _ in $(seq 1 $((wait_s * 5))); do
    daemon_answers && { echo "dockerd: answers on $socket"; return 0; }
    sleep 0.2
  done
  echo "dockerd: no answer on $socket after ${wait_s}s; see $log_file" >&2
  tail -n 20 "$log_file" >&2 || true
  exit 1
}

stop() {
  local pid
  if ! pid=$(started_pid); then
    "${sudo_cmd[@]}" rm -f "$pid_file"
    echo "dockerd: nothing to stop (no daemon started by this script)"
    return 0
  fi
  "${sudo_cmd[@]}" kill -TERM "$pid"
  for _ in $(seq 1 $((wait_s * 5))); do
    [ -d "/proc/$pid" ] || break
    sleep 0.2
  done
  if [ -d "/proc/$pid" ]; then
    echo "dockerd: pid $pid still runs after ${wait_s}s; sending KILL" >&2
    "${sudo_cmd[@]}" kill -KILL "$pid" || true
  fi
  "${sudo_cmd[@]}" rm -f "$pid_file"
  echo "dockerd: stopped pid $pid"
}

status() {
  local answers=no ours=no pid=""
  daemon_answers && answers=yes
  pid=$(started_pid) && ours="yes (pid $pid)"
  echo "dockerd: answers=$answers started_by_pier=$ours"
  [ "$answers" = yes ]
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
