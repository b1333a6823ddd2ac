#!/usr/bin/env bash
# The libFuzzer targets of tests/fuzz: a clang build tree of its own (g++ has no -fsanitize=fuzzer), with
# AddressSanitizer and UndefinedBehaviorSanitizer, building only what the targets need.
#   scripts/fuzz.sh --ci              build, then ctest runs every target PIER_FUZZ_SECONDS (5) on its corpus
#   scripts/fuzz.sh TARGET [ARGS...]  build, then run fuzz_TARGET on a copy of its corpus with libFuzzer's
#                                     ARGS (e.g. -runs=10000000); new inputs go to $BUILD_DIR/corpus/TARGET
#   scripts/fuzz.sh --list            the targets
#   BUILD_DIR  build folder (default: build-fuzz)
# A crash leaves crash-<sha1> in the current folder: fix it, add a regression test, and put the input
# into tests/fuzz/corpus/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh clang libclang-rt-dev
build_dir=${BUILD_DIR:-build-fuzz}
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(pwd)} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
if [ ! -f "$build_dir/build.ninja" ]; then
  # -O1: libFuzzer's advice (fast to build, keeps the sanitizers' reports readable).
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DPIER_FUZZ=ON -DPIER_FUZZ_SECONDS="${PIER_FUZZ_SECONDS:-5}" >/dev/null
fi
targets=$(sed -n 's/^set(PIER_FUZZ_TARGETS \(.*\))$/\1/p' tests/fuzz/CMakeLists.txt)
case "${1:---ci}" in
  --list)
    echo "$targets"
    ;;
  --ci)
    cmake --build "$build_dir" -j "$(nproc)"
    ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)" -L fuzz
    ;;
  *)
    target=$1
    shift
    [[ " $targets " == *" $target "* ]] || { echo "fuzz: no target $target (one of: $targets)" >&2; exit 2; }
    cmake --build "$build_dir" -j "$(nproc)" --target "fuzz_$target"
    mkdir -p "$build_dir/corpus/$target"
    exec "$build_dir/bin/fuzz_$target" -print_final_stats=1 "$@" "$build_dir/corpus/$target" \
      "tests/fuzz/corpus/$target"
    ;;
esac
