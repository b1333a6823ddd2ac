#!/usr/bin/env bash
# Builds pier's Docker images locally, with no image registry (see docs/DOCKER.md):
#   pier/base:<version>      Debian minbase of this machine's own suite, from this machine's own apt
#                            source, with the runtime libraries pier's binaries link and HAProxy;
#                            made by debootstrap and `docker import`. Skipped when it exists and
#                            already holds every package needed.
#   pier/demo-app:<version>  FROM scratch, one statically linked pier-demo-app.
#   pier/<service>:<version> bus, registry, scheduler, lbgen, metrics, agent: docker/Dockerfile
#                            FROM pier/base, with the binaries built on this host.
# Run scripts/build.sh first (the binaries come from it). Idempotent; fast when nothing changed.
#   BUILD_DIR       build folder holding bin/ (default: build, as scripts/build.sh)
#   DOCKER          docker client (default: /usr/bin/docker when present, else docker on PATH)
#   PIER_IMAGES     which to build: any of "base demo services" (default: all three)
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
repo=$PWD
build_dir=$(cd "${BUILD_DIR:-build}" && pwd)
images=${PIER_IMAGES:-base demo services}
source scripts/docker-env.sh

version=$(sed -n 's/^project(pier VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
[ -n "$version" ] || { echo "images: no project(pier VERSION ...) in CMakeLists.txt" >&2; exit 1; }
services=(bus registry scheduler lbgen metrics agent)
stage=$repo/docker/stage

SUDO=()
[ "$(id -u)" -eq 0 ] || SUDO=(sudo)

now() { date +%s%N; }
took() { awk -v ns=$(($(now) - $1)) 'BEGIN { printf "%.1fs", ns / 1e9 }'; }

# Temporary folders, removed on exit whatever happens.
temporaries=()
cleanup() { [ ${#temporaries[@]} -eq 0 ] || "${SUDO[@]}" rm -rf "${temporaries[@]}"; }
trap cleanup EXIT

image_exists() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

# Stages the service binaries (stripped: the image needs no debug info) into docker/stage/bin, the
# only part of the repository the Docker build context sends (.dockerignore).
stage_service_binaries() {
  mkdir -p "$stage/bin"
  local s
  for s in "${services[@]}"; do
    if [ -x "$build_dir/bin/pier-$s" ]; then
      if [ ! -f "$stage/bin/pier-$s" ] || [ "$build_dir/bin/pier-$s" -nt "$stage/bin/pier-$s" ]; then
        strip --strip-unneeded -o "$stage/bin/pier-$s" "$build_dir/bin/pier-$s"
      fi
    else
      rm -f "$stage/bin/pier-$s"
      echo "images: $build_dir/bin/pier-$s is not built; image pier/$s is skipped" >&2
    fi
  done
}

# The Debian packages the staged binaries load (ldd, then dpkg -S), plus HAProxy for the agent.
runtime_packages() {
  {
    echo haproxy
    local lib
    for lib in $(ldd "$stage"/bin/pier-* 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u); do
      # dpkg knows a library by the path its package ships (/lib or /usr/lib: merged /usr).
      { dpkg -S "$lib" || dpkg -S "/usr$lib" || dpkg -S "${lib#/usr}"; } 2>/dev/null | sed -n 's/^\([^:]*\):.*/\1/p' | head -n 1
    done
  } | sort -u
}

# Mirror and suite of this machine's Debian, from its own apt configuration (deb822 or one-line).
apt_source() {
  local codename
  codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
  apt-get indextargets --format '$(SITE) $(RELEASE) $(TARGET_OF)' |
    awk -v suite="$codename" '$2 == suite && $3 == "deb" {print $1, $2; exit}'
}

build_base() {
  local tag=pier/base:$version
  local wanted
  wanted=$(runtime_packages | paste -sd, -)
  if image_exists "$tag"; then
    local held missing=""
    held=$("$DOCKER" image inspect "$tag" --format '{{index .Config.Labels "org.pier.packages"}}')
    for p in ${wanted//,/ }; do
      case ",$held," in *",$p,"*) ;; *) missing+=" $p" ;; esac
    done
    if [ -z "$missing" ]; then
      echo "images: $tag exists (cached)"
      return 0
    fi
    echo "images: $tag lacks$missing; rebuilding it"
  fi
  local mirror suite
  read -r mirror suite < <(apt_source) || true
  [ -n "${mirror:-}" ] || { echo "images: no Debian source for this machine's suite in its apt configuration" >&2; exit 1; }
  echo "images: $tag: debootstrap --variant=minbase $suite ($wanted)"
  local start rootfs
  start=$(now)
  rootfs=$(mktemp -d /var/tmp/pier-base.XXXXXX)
  temporaries+=("$rootfs" "$rootfs.log")
  "${SUDO[@]}" debootstrap --variant=minbase --include="$wanted" "$suite" "$rootfs" "$mirror" \
    >"$rootfs.log" 2>&1 || { tail -n 30 "$rootfs.log" >&2; exit 1; }
  # Security and point-release updates: the image gets this machine's whole apt source list.
  "${SUDO[@]}" rm -f "$rootfs/etc/apt/sources.list"
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && "${SUDO[@]}" cp "$f" "$rootfs/etc/apt/${f#/etc/apt/}"
  done
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$rootfs/usr/sbin/policy-rc.d" >/dev/null
  "${SUDO[@]}" chmod +x "$rootfs/usr/sbin/policy-rc.d"
  "${SUDO[@]}" chroot "$rootfs" sh -c 'export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get -y -qq upgrade >/dev/null && apt-get clean' >>"$rootfs.log" 2>&1 ||
    { tail -n 30 "$rootfs.log" >&2; exit 1; }
  "${SUDO[@]}" rm -rf "$rootfs/usr/sbin/policy-rc.d" "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
    "$rootfs"/var/log/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
  "${SUDO[@]}" tar -C "$rootfs" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -c . |
    "$DOCKER" import \
      --change "LABEL org.pier.packages=$wanted" \
      --change "LABEL org.pier.suite=$suite" \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["/bin/bash"]' \
      - "$tag" >/dev/null
  echo "images: $tag built in $(took "$start") ($("$DOCKER" image inspect "$tag" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}'))"
}

# Unpacks the upstream single-file httplib.h of the installed libcpp-httplib-dev's version from its
# Debian source package (Debian ships only the split header plus a shared library), with apt-get
# and a source list made from this machine's own apt configuration, into a cache folder.
httplib_single_header_dir() {
  local version cache
  version=$(dpkg-query -W -f='${source:Version}' libcpp-httplib-dev)
  cache=${XDG_CACHE_HOME:-$HOME/.cache}/pier/cpp-httplib-$version
  if [ ! -f "$cache/src/httplib.h" ]; then
    local work
    work=$(mktemp -d)
    temporaries+=("$work")
    mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] || continue
      case $f in
        *.sources) sed 's/^Types:.*/Types: deb-src/' "$f" >"$work/$(basename "$f")" ;;
        *) sed -n 's/^deb \(.*\)/deb-src \1/p' "$f" >"$work/$(basename "$f").list" ;;
      esac
    done
    local apt_opts=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$work"
      -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "APT::Sandbox::User=root")
    (cd "$work" && apt-get -qq "${apt_opts[@]}" update && apt-get -qq "${apt_opts[@]}" source --download-only \
      "cpp-httplib=$version") >&2
    mkdir -p "$(dirname "$cache")"
    rm -rf "$cache.tmp" && mkdir -p "$cache.tmp"
    # apt-get checked the files against the signed index; dpkg-source has no Debian keyring to
    # check the .dsc signature again.
    dpkg-source --no-check -x "$work"/cpp-httplib_*.dsc "$cache.tmp/src" >/dev/null
    rm -rf "$cache" && mv "$cache.tmp" "$cache"
  fi
  echo "$cache/src"
}

build_demo() {
  local tag=pier/demo-app:$version start
  start=$(now)
  local header_dir
  header_dir=$(httplib_single_header_dir)
  cmake -S "$repo" -B "$build_dir" -DPIER_HTTPLIB_SINGLE_HEADER_DIR="$header_dir" >/dev/null
  cmake --build "$build_dir" --target pier-demo-app-static
  local bin=$build_dir/bin/pier-demo-app-static
  if ldd "$bin" >/dev/null 2>&1; then
    echo "images: $bin is dynamically linked; a FROM-scratch image cannot run it" >&2
    exit 1
  fi
  mkdir -p "$stage/demo"
  strip --strip-unneeded -o "$stage/demo/pier-demo-app" "$bin"
  "$DOCKER" build -q -f docker/demo-app.Dockerfile -t "$tag" . >/dev/null
  echo "images: $tag ready in $(took "$start") ($("$DOCKER" image inspect "$tag" --format '{{.Size}}' | awk '{printf "%.1f MB", $1/1e6}'))"
}

build_services() {
  local s start
  for s in "${services[@]}"; do
    [ -f "$stage/bin/pier-$s" ] || continue
    start=$(now)
    "$DOCKER" build -q -f docker/Dockerfile --target "$s" --build-arg "PIER_VERSION=$version" \
      -t "pier/$s:$version" . >/dev/null
    echo "images: pier/$s:$version ready in $(took "$start")"
  done
}

for what in $images; do
  case $what in
    base | demo | services) ;;
    *) echo "images: unknown image set '$what' (base, demo, services)" >&2; exit 2 ;;
  esac
done
stage_service_binaries
case " $images " in *" base "* | *" services "*) build_base ;; esac
case " $images " in *" demo "*) build_demo ;; esac
case " $images " in *" services "*) build_services ;; esac
