#!/bin/sh
# valgrind.sh COMMAND...: runs COMMAND under valgrind memcheck, children
# included, and fails when any process of the run reported an error.
# Criterion re-executes the binary for every test and does not look at the
# worker's exit status, so --error-exitcode alone would miss errors found
# inside tests: each process's ERROR SUMMARY is checked instead. Definite
# leaks count as errors; processes killed on purpose (abort in an OOM test)
# leave their blocks "possibly lost", which do not.
logs=$(mktemp -d "${TMPDIR:-/tmp}/zmem-vg.XXXXXX") || exit 2
valgrind --trace-children=yes --error-exitcode=99 --leak-check=full \
  --show-leak-kinds=definite --errors-for-leak-kinds=definite \
  --log-file="$logs/vg.%p" "$@"
rc=$?
bad=0
for f in "$logs"/vg.*; do
  [ -f "$f" ] || continue
  if grep -q "ERROR SUMMARY: [1-9]" "$f"; then
    cat "$f" >&2
    bad=1
  fi
done
rm -rf "$logs"
[ "$bad" -eq 0 ] || exit 99
exit "$rc"
