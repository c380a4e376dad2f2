#!/bin/sh
# valgrind.sh COMMAND...: runs COMMAND under valgrind memcheck, children
# included, and fails when any process of the run reported an error.
# Criterion re-executes the binary for every test and does not look at the
# worker's exit status, so --error-exitcode alone would miss errors found
# inside tests: each process's log is checked instead.
logs=$(mktemp -d "${TMPDIR:-/tmp}/zmem-vg.XXXXXX") || exit 2
valgrind --quiet --trace-children=yes --error-exitcode=99 \
  --leak-check=full --errors-for-leak-kinds=definite \
  --log-file="$logs/vg.%p" "$@"
rc=$?
# With --quiet a clean process leaves an empty log; "Warning:" lines (large
# address ranges, say) are not errors.
bad=0
for f in "$logs"/vg.*; do
  [ -f "$f" ] || continue
  if grep -v -e "Warning: " -e "^==[0-9]*==    *" -e "^==[0-9]*== *$" "$f" |
     grep -q .; then
    cat "$f" >&2
    bad=1
  fi
done
rm -rf "$logs"
[ "$bad" -eq 0 ] || exit 99
exit "$rc"
