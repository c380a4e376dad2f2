#!/bin/sh
# Runs a Criterion test executable under valgrind memcheck and fails when any
# process reported an error or a leak.
#
# Criterion runs every test in a child process and judges the test by what
# the child reports before it exits, not by its exit status, so valgrind's
# --error-exitcode in a child is lost and a leak (found at exit) can never fail
# a test. Hence: trace the children, one log per process, and read the logs.
#   valgrind.sh TEST_EXECUTABLE [criterion options...]
set -u
exe=$1
shift
logs=$(mktemp -d "${TMPDIR:-/tmp}/zmem-vg.XXXXXX")
valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,possible \
  --trace-children=yes --child-silent-after-fork=no --track-fds=no \
  --log-file="$logs/vg.%p.log" "$exe" --jobs 1 "$@"
status=$?
bad=$(grep -L 'ERROR SUMMARY: 0 errors' "$logs"/vg.*.log)
nlogs=$(ls "$logs" | wc -l)
if [ -n "$bad" ]; then
  for f in $bad; do
    echo "==== $f" >&2
    cat "$f" >&2
  done
  status=1
fi
echo "valgrind: $nlogs processes checked, $(echo $bad | wc -w) with errors"
rm -rf "$logs"
exit $status
