#!/usr/bin/env bash
# Installs every Debian package that building, testing and running pier needs.
# Idempotent: when everything is present it only checks (dpkg-query) and returns in well under a second.
# Arguments name more packages a script needs besides these (scripts/fuzz.sh: clang, libclang-rt-dev).
set -euo pipefail

packages=(
  build-essential cmake pkg-config ninja-build ccache
  libzmq3-dev cppzmq-dev libmsgpack-cxx-dev
  libsqlite3-dev libsqlitecpp-dev
  libboost-program-options-dev
  libgtest-dev libgmock-dev
  libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libcpp-httplib-dev libkainjow-mustache-dev libhowardhinnant-date-dev tzdata
  haproxy curl iproute2 procps python3 python3-prometheus-client
  clang-format
  docker.io docker-compose debootstrap busybox-static libcurl4-openssl-dev
  libnl-3-dev libnl-route-3-dev iptables
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "bootstrap: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
