#!/usr/bin/env bash
# The debug layout's cost, as ratios against the lean and header layouts of
# the same build: instructions per operation under callgrind (stable on a
# busy machine) and wall time per operation (median of 3 runs; noisy).
# There is no target; the figures go to bench/DEBUG_COST.md.
#   bench/debug_cost.sh [BUILD_DIR]   (default build/bench; built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/bench}
if [ ! -x "$build/bench/zbench" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DZMEM_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build" -j2 --target zbench >/dev/null
fi
zb=$build/bench/zbench
contenders=(zm-lean zm-header zm-debug)
workloads=(churn mixed realloc)
scale=0.05

field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p"; }

# Instructions per operation: the whole process under callgrind, divided by
# the operations it ran.
ir_per_op() {
  local out ops ir
  out=$(mktemp)
  ops=$(valgrind --tool=callgrind --callgrind-out-file="$out" "$zb" "$1" "$2" 1 \
          --scale $scale 2>/dev/null | field ops)
  ir=$(sed -n 's/^summary: \([0-9]*\).*/\1/p' "$out")
  rm -f "$out"
  echo "$ir $ops" | awk '{printf "%.1f", $1 / $2}'
}

ns_per_op() {
  for _ in 1 2 3; do "$zb" "$1" "$2" 1 | field ns_per_op; done | sort -g | sed -n 2p
}

machine="$(nproc)-core $(uname -m), $(. /etc/os-release; echo "$PRETTY_NAME"), $(cc --version | head -1)"
{
  echo "# Cost of the debug layout"
  echo
  echo "Produced by \`bench/debug_cost.sh\` on: $machine."
  echo "One thread, the built-in backend of the build ($("$zb" zm-lean churn 1 --scale 0.001 | field backend))."
  echo "Instructions per operation under callgrind (scale $scale), and the"
  echo "median wall time per operation of three full-size runs. On a shared"
  echo "machine the wall times are noisy; the instruction counts are not."
  echo
  echo "| workload | lean Ir/op | header Ir/op | debug Ir/op | debug/lean | debug/header | lean ns/op | header ns/op | debug ns/op | debug/lean (time) |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for w in "${workloads[@]}"; do
    declare -A ir ns
    for c in "${contenders[@]}"; do
      ir[$c]=$(ir_per_op "$c" "$w")
      ns[$c]=$(ns_per_op "$c" "$w")
    done
    awk -v w="$w" -v l="${ir[zm-lean]}" -v h="${ir[zm-header]}" -v d="${ir[zm-debug]}" \
        -v tl="${ns[zm-lean]}" -v th="${ns[zm-header]}" -v td="${ns[zm-debug]}" \
      'BEGIN {printf "| %s | %.0f | %.0f | %.0f | %.1fx | %.1fx | %.1f | %.1f | %.1f | %.1fx |\n",
              w, l, h, d, d / l, d / h, tl, th, td, td / tl}'
  done
} | tee bench/DEBUG_COST.md
