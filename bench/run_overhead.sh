#!/bin/sh
# The overhead of `zmem run`: builds zmem (Release) and bench/run_churn.c,
# then runs the C churn program at 1 and 2 threads and the python3 workload
# plain, under `zmem run`, under memusage and under heaptrack, and writes
# bench/RUN-OVERHEAD.md.
#   bench/run_overhead.sh [--quick] [run_overhead.py options]
# --quick: one short repetition, written to build-bench-run/RUN-OVERHEAD.md.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/deps.sh bench
b=build-bench-run
cmake -S . -B $b -DCMAKE_BUILD_TYPE=Release -DZMEM_BUILD_TESTS=OFF \
  -DZMEM_BUILD_BENCH=OFF >/dev/null
cmake --build $b -j"$(nproc)" >/dev/null
cc -O2 -fno-builtin -pthread -o $b/run_churn bench/run_churn.c
if [ "${1:-}" = "--quick" ]; then
  shift
  exec python3 bench/run_overhead.py $b/bin/zmem $b/run_churn --reps 1 \
    --rounds 300000 --out $b/RUN-OVERHEAD.md "$@"
fi
exec python3 bench/run_overhead.py $b/bin/zmem $b/run_churn "$@"
