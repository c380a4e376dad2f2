#!/bin/sh
# The one command: builds zmem and the benchmarks once per backend (Release,
# one build tree each: build-bench-<backend>), runs the whole matrix and
# writes bench/RESULTS.md, bench/results.json and the table in
# bench/README.md.
#
#   bench/run.sh            the reference run (12-15 minutes on 2 cores)
#   bench/run.sh --quick    a smoke run (fewer, shorter repetitions); writes
#                           to build-bench-quick/ and leaves bench/ alone
#
# Other options go to zbench_driver (see bench/README.md), e.g.
# --threads 1,2 --reps 7 --no-callgrind --pin. ZBENCH_BACKENDS selects the
# backends (default: libc jemalloc mimalloc tcmalloc).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/deps.sh bench # installs what is missing as root, else names it
backends=${ZBENCH_BACKENDS:-"libc jemalloc mimalloc tcmalloc"}
jobs=$(nproc 2>/dev/null || echo 2)

quick=0
for arg in "$@"; do
  [ "$arg" = "--quick" ] && quick=1
done
if [ "$quick" = 1 ]; then
  mkdir -p build-bench-quick
  outputs="--md build-bench-quick/RESULTS.md --json build-bench-quick/results.json"
else
  outputs="--md bench/RESULTS.md --json bench/results.json --readme bench/README.md"
fi

dirs=""
driver=""
for be in $backends; do
  build="build-bench-$be"
  echo "== building $be in $build" >&2
  mkdir -p "$build"
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DZMEM_BACKEND="$be" \
    -DZMEM_BUILD_TESTS=OFF -DZMEM_BUILD_BENCH=ON >"$build/bench-build.log" 2>&1 ||
    { cat "$build/bench-build.log" >&2; exit 1; }
  cmake --build "$build" --target bench -j "$jobs" >>"$build/bench-build.log" 2>&1 ||
    { cat "$build/bench-build.log" >&2; exit 1; }
  dirs="$dirs $be=$build/bench"
  [ -n "$driver" ] || driver="$build/bench/zbench_driver"
done

echo "== running (progress on stderr; TARGET lines on stdout)" >&2
# The instruction counts of the lean path before its rebuild, for the
# before/after columns of the callgrind table.
cg_before=""
[ -f bench/callgrind-before.txt ] && cg_before="--cg-before bench/callgrind-before.txt"
# shellcheck disable=SC2086 # word splitting of $outputs, $dirs, $cg_before
exec "$driver" $outputs --analysis bench/ANALYSIS.md $cg_before \
  --command "bench/run.sh${*:+ $*}" "$@" $dirs
