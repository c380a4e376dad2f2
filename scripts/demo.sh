#!/usr/bin/env bash
# The main job: builds zmem and profiles a real program with `zmem run`:
# python3 (its own allocator off, so every object is a malloc) building,
# serialising and dropping a word index. The report goes to stderr; the
# program's own output, the JSON report and the SVG plot go to build/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh demo
mkdir -p build
echo "building zmem in build/demo (log: build/demo.log) ..." >&2
if ! { cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=Release -DZMEM_BUILD_TESTS=OFF \
         -DZMEM_BUILD_BENCH=OFF && cmake --build build/demo -j"$(nproc)"; } \
     >build/demo.log 2>&1; then
  tail -n 30 build/demo.log >&2
  echo "zmem: the build failed; its output is in build/demo.log" >&2
  exit 1
fi
py=$(command -v /usr/bin/python3 || command -v python3)
echo "\$ PYTHONMALLOC=malloc zmem run --json build/demo/run.json --plot build/demo/run.svg" \
  "-- python3 examples/workload.py >build/demo/workload.out" >&2
PYTHONMALLOC=malloc build/demo/bin/zmem run --json build/demo/run.json \
  --plot build/demo/run.svg -- "$py" examples/workload.py >build/demo/workload.out
echo "(JSON report: build/demo/run.json; plot: build/demo/run.svg; manual: man -l man/zmem-run.1)" >&2
echo "zmem is build/demo/bin/zmem; to run it by name, put it on PATH:" >&2
echo "  export PATH=\"$PWD/build/demo/bin:\$PATH\"" >&2
echo "or install it with its manual pages: sudo cmake --install build/demo" >&2
