#!/usr/bin/env bash
# The main job: builds zmem and profiles a real program with `zmem run`:
# python3 (its own allocator off, so every object is a malloc) building,
# serialising and dropping a word index. The report goes to stderr; the
# JSON report and the SVG plot go to build/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh demo
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=Release -DZMEM_BUILD_TESTS=OFF \
  -DZMEM_BUILD_BENCH=OFF >/dev/null
cmake --build build/demo -j"$(nproc)" >/dev/null
py=$(command -v /usr/bin/python3 || command -v python3)
echo "\$ PYTHONMALLOC=malloc zmem run --json build/demo/run.json --plot build/demo/run.svg -- python3 examples/workload.py" >&2
PYTHONMALLOC=malloc build/demo/bin/zmem run --json build/demo/run.json \
  --plot build/demo/run.svg -- "$py" examples/workload.py
echo "(JSON report: build/demo/run.json; plot: build/demo/run.svg; options: docs/run.md)" >&2
