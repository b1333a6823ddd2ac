#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole stack on this machine with the demo app
# (3 instances behind HAProxy on http://127.0.0.1:8080/). Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
# Only what the demo runs (the services, the CLI, the demo app): scripts/test.sh builds the tests.
bash scripts/build.sh pier-stack
exec "${BUILD_DIR:-build}/bin/pier" dev --demo "$@"
