#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole stack on this machine with the demo app
# (3 instances behind HAProxy on http://127.0.0.1:8080/). Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
exec "${BUILD_DIR:-build}/bin/pier" dev --demo "$@"
