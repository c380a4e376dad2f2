#!/bin/sh
# Runs one Criterion test executable for CTest and fails it when a sanitizer
# or valgrind reported anything, in any of its processes.
#
# Criterion runs every test in a child process and judges the test only by
# what the child reports while the test body runs: an error reported when the
# child exits (a leak found by LeakSanitizer or valgrind, a ThreadSanitizer
# or UBSan report that did not stop the program, valgrind's --error-exitcode)
# is lost, and the test passes. So each process writes its reports to a file
# of its own here, and this script reads them.
#   run_test.sh [--valgrind] [--plain] TEST_EXECUTABLE [options...]
# --plain: the executable is not a Criterion runner (no --jobs 1 for it).
set -u
valgrind=no
jobs="--jobs 1"
while :; do
  case "${1:-}" in
    --valgrind) valgrind=yes; shift ;;
    --plain) jobs=""; shift ;;
    *) break ;;
  esac
done
exe=$1
shift
dir=$(mktemp -d "${TMPDIR:-/tmp}/zmem-test.XXXXXX")
trap 'rm -rf "$dir"' EXIT

# Sanitizer reports go to $dir/san.PID, whatever else the caller asked for.
for var in ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS TSAN_OPTIONS; do
  eval "old=\${$var:-}"
  eval "export $var=\"\${old:+\$old:}log_path=\$dir/san\""
done

if [ $valgrind = yes ]; then
  # Definite and possible leaks are errors. zmem registers its header and
  # debug blocks with valgrind's client requests, so memcheck tracks the
  # block the program got, not the backend's block 16 or more bytes in front
  # of it: a pointer to it makes the block reachable, none makes it
  # "definitely lost" (tests vg_header_lost and vg_debug_lost check both).
  valgrind --error-exitcode=1 --leak-check=full \
    --errors-for-leak-kinds=definite,possible --trace-children=yes \
    --suppressions="$(dirname "$0")/valgrind.supp" \
    --log-file="$dir/vg.%p" "$exe" $jobs "$@"
else
  "$exe" "$@"
fi
status=$?

# Sanitizer warnings that are not errors ("failed to allocate ... bytes"
# with allocator_may_return_null) do not count.
bad=""
for f in "$dir"/san.* "$dir"/vg.*; do
  [ -e "$f" ] || continue
  case $f in
  */vg.*) grep -q 'ERROR SUMMARY: 0 errors' "$f" || bad="$bad $f" ;;
  *) grep -Eq 'ERROR: |SUMMARY: |runtime error' "$f" && bad="$bad $f" ;;
  esac
done
for f in $bad; do
  echo "==== report of process ${f##*.}:" >&2
  cat "$f" >&2
done
if [ -n "$bad" ]; then
  echo "FAIL: $(echo $bad | wc -w) process(es) reported errors" >&2
  status=1
fi
if [ $valgrind = yes ]; then
  echo "valgrind: $(ls "$dir" | grep -c '^vg\.') processes checked" >&2
fi
exit $status
