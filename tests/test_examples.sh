#!/bin/sh
# The example programs a newcomer runs: the demo (scripts/demo.sh), the
# README's example, and the report example with each format and a bad one.
#   test_examples.sh DEMO README_EXAMPLE REPORT_EXAMPLE WORK_DIR
set -u
demo=$1
readme=$2
report=$3
work=$4
status=0
fail() {
  echo "FAIL: $*" >&2
  status=1
}
rm -rf "$work"
mkdir -p "$work"

"$demo" >"$work/demo.out" 2>&1 || fail "the demo exited $?: $(cat "$work/demo.out")"
# Quantities for people: no 20-digit byte counts such as SIZE_MAX. Lines a
# sanitizer writes (==PID==...) are its own, not the demo's.
grep -v '^==[0-9]*==' "$work/demo.out" | grep -Eq '[0-9]{16}' &&
  fail "the demo prints an unreadable quantity: $(cat "$work/demo.out")"
for text in "try_malloc(4.0 EiB)" "count * size overflows size_t" \
  "handler calls: 1" "used 0,"; do
  grep -qF -- "$text" "$work/demo.out" || fail "no '$text' in the demo's output"
done

"$readme" >"$work/readme.out" 2>&1 || fail "the README example exited $?"
grep -q '^used [0-9]*, cache [1-9]' "$work/readme.out" ||
  fail "the README example printed: $(cat "$work/readme.out")"

for fmt in text json prometheus; do
  "$report" $fmt >"$work/$fmt.out" 2>"$work/$fmt.err" ||
    fail "report $fmt exited $?: $(cat "$work/$fmt.err")"
  [ -s "$work/$fmt.out" ] || fail "report $fmt printed nothing"
done
grep -q '"schema": 1' "$work/json.out" || fail "report json is not JSON"
grep -q '^# TYPE zmem_used_bytes gauge' "$work/prometheus.out" ||
  fail "report prometheus is not the exposition format"
"$report" >"$work/default.out" 2>&1 || fail "report with no argument failed"
cmp -s "$work/default.out" "$work/text.out" ||
  echo "note: default and text reports differ (figures move between runs)"

# An unknown format or an extra argument: usage on stderr, nothing on
# stdout, non-zero exit.
for args in xml "json extra" --json; do
  # shellcheck disable=SC2086
  "$report" $args >"$work/bad.out" 2>"$work/bad.err"
  rc=$?
  [ $rc -ne 0 ] || fail "report '$args' exited 0"
  [ -s "$work/bad.out" ] && fail "report '$args' printed: $(cat "$work/bad.out")"
  grep -q "usage: .* \[text|json|prometheus\]" "$work/bad.err" ||
    fail "report '$args' gave no usage: $(cat "$work/bad.err")"
done

[ $status -eq 0 ] && echo "examples: demo, README example, report formats and usage ok"
exit $status
