#!/usr/bin/env bash
# The main job: builds zmem and runs the demo program.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh demo
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=Release -DZMEM_BUILD_TESTS=OFF \
  -DZMEM_BUILD_BENCH=OFF >/dev/null
cmake --build build/demo -j"$(nproc)" >/dev/null
build/demo/examples/zmem_demo
