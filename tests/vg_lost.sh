#!/bin/sh
# Runs vg_lost under valgrind memcheck and checks the leak summary: the lost
# block is "definitely lost", the kept one "still reachable", and nothing
# "possibly lost" (see vg_lost.c).
#   vg_lost.sh VG_LOST_EXECUTABLE header|debug
set -u
exe=$1 layout=$2
out=$(valgrind --leak-check=full --show-leak-kinds=all "$exe" "$layout" 2>&1)
fail=0
expect() {
  if ! printf '%s\n' "$out" | grep -q "$1"; then
    echo "FAIL ($layout): no line matching: $1"
    fail=1
  fi
}
expect 'definitely lost: 1,000 bytes in 1 blocks'
expect 'possibly lost: 0 bytes in 0 blocks'
expect 'still reachable: 3,000 bytes in 1 blocks'
[ $fail -eq 0 ] || printf '%s\n' "$out"
exit $fail
