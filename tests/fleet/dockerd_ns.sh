#!/usr/bin/env bash
# A Docker daemon of its own inside a network namespace, one per simulated host of a fleet test: its own
# containerd (dockerd starts one under the exec root), data root, exec root, socket, pid file and
# daemon.json, so nothing of the machine's own dockerd (/var/run/docker.sock, /var/lib/docker) is used.
#   dockerd_ns.sh start NS DIR [dockerd flags...]
#       makes namespace NS when it does not exist (loopback up; removed again by stop), starts
#       `dockerd --data-root DIR/data --exec-root DIR/exec -H unix://DIR/docker.sock --pidfile
#       DIR/docker.pid --config-file DIR/daemon.json --bridge=none` in it with the flags given (e.g.
#       --iptables=false; dockerd's default is --iptables=true, which writes only NS's own iptables),
#       waits up to 30 s for GET /_ping, and prints the socket's path. Log: DIR/dockerd.log.
#   dockerd_ns.sh stop NS DIR
#       stops that daemon (TERM, which stops its containers; KILL after 30 s), then the namespace
#       if start made it. Idempotent. DIR (images and all) stays for the next start.
#   dockerd_ns.sh purge NS DIR
#       stop, then removes DIR (after unmounting anything the daemon left mounted under it).
#   dockerd_ns.sh status NS DIR
#       exit 0 when the daemon answers.
# Then e.g.: docker -H unix://DIR/docker.sock load <image.tar; DOCKER_BUILDKIT=0 docker -H ... build.
# The daemon's bridges and containers live in NS: reach them with `ip netns exec NS ...`.
#
# Why nsenter and not `ip netns exec`: `ip netns exec` gives the program a mount namespace with a
# fresh /sys, which hides the cgroup v1 mounts under /sys/fs/cgroup, and dockerd then fails with
# "failed to start daemon: Devices cgroup isn't mounted". nsenter --net changes the network namespace
# alone. Keep DIR short: containerd's socket, DIR/exec/containerd/containerd.sock, must fit in a unix
# socket path (108 bytes). Needs root.
set -euo pipefail

wait_s=30
usage() { echo "usage: $0 start|stop|purge|status NS DIR [dockerd flags...]" >&2; exit 2; }
[ $# -ge 3 ] || usage
cmd=$1 ns=$2 dir=$(realpath -m "$3")
shift 3
socket=$dir/docker.sock
pid_file=$dir/docker.pid
made_ns=$dir/made-netns

answers() { [ -S "$socket" ] && curl -fsS --max-time 2 --unix-socket "$socket" http://localhost/_ping >/dev/null 2>&1; }

daemon_pid() {
  local pid
  pid=$(cat "$pid_file" 2>/dev/null) || return 1
  # Still a dockerd, and in NS (a stale file after a reboot names some other process).
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] &&
    [ "$(readlink "/proc/$pid/ns/net")" = "$(ip netns exec "$ns" readlink /proc/self/ns/net 2>/dev/null)" ] &&
    echo "$pid"
}

start() {
  [ "$(id -u)" -eq 0 ] || { echo "dockerd_ns: needs root" >&2; exit 1; }
  command -v dockerd >/dev/null || { echo "dockerd_ns: dockerd is not installed" >&2; exit 1; }
  [ ${#dir} -le 60 ] || { echo "dockerd_ns: $dir is too long for containerd's socket path" >&2; exit 1; }
  mkdir -p "$dir"
  if ! ip netns list | awk '{print $1}' | grep -qx "$ns"; then
    ip netns add "$ns"
    touch "$made_ns"
    ip -n "$ns" link set lo up
  fi
  if answers; then
    echo "$socket"
    return 0
  fi
  if ! daemon_pid >/dev/null; then
    [ -f "$dir/daemon.json" ] || echo '{}' >"$dir/daemon.json"
    rm -f "$socket"
    # setsid: the daemon outlives this shell and its terminal's signals.
    setsid nsenter --net="/run/netns/$ns" dockerd --data-root "$dir/data" --exec-root "$dir/exec" \
      -H "unix://$socket" --pidfile "$pid_file" --config-file "$dir/daemon.json" --bridge=none "$@" \
      >>"$dir/dockerd.log" 2>&1 </dev/null &
  fi
  local i
  for i in $(seq 1 $((wait_s * 5))); do
    if answers; then
      echo "$socket"
      return 0
    fi
    sleep 0.2
  done
  echo "dockerd_ns: no answer on $socket after ${wait_s}s; last lines of $dir/dockerd.log:" >&2
  tail -n 20 "$dir/dockerd.log" >&2 || true
  stop
  exit 1
}

stop() {
  local pid i
  if pid=$(daemon_pid); then
    kill -TERM "$pid"
    for i in $(seq 1 $((wait_s * 5))); do
      [ -d "/proc/$pid" ] || break
      sleep 0.2
    done
    if [ -d "/proc/$pid" ]; then
      echo "dockerd_ns: dockerd $pid still runs after ${wait_s}s; sending KILL" >&2
      kill -KILL "$pid" || true
    fi
  fi
  rm -f "$pid_file"
  if [ -f "$made_ns" ]; then
    # What is left in NS (a containerd-shim of a killed daemon) would keep nothing alive after the
    # namespace goes, but would still run: end it first.
    local left
    left=$(ip netns pids "$ns" 2>/dev/null || true)
    [ -z "$left" ] || kill -KILL $left 2>/dev/null || true
    ip netns delete "$ns" 2>/dev/null || true
    rm -f "$made_ns"
  fi
}

purge() {
  stop
  local m
  # Deepest first.
  for m in $(awk -v d="$dir/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$dir"
}

case $cmd in
  start) start "$@" ;;
  stop) stop ;;
  purge) purge ;;
  status) answers ;;
  *) usage ;;
esac
