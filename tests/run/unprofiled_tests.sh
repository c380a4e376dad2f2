#!/usr/bin/env bash
# What zmem cannot profile, named: programs it cannot start under the
# preload, processes that left it (exec into a static or set-user-ID
# program, LD_PRELOAD dropped, still running at the end), allocators that
# bypass it.
#   unprofiled_tests.sh ZMEM HELPERS_DIR TEST
. "$(dirname "$0")/../script_test.sh" unprofiled "$@"

# refused STATUS PATTERN program args...: one clear line naming why, that
# status, no report of zeros.
refused() {
  local want=$1 pat=$2
  shift 2
  rm -f ran.txt
  timeout 60 "$ZMEM" run --json r.json -- "$@" >out.txt 2>err.txt
  local rc=$?
  [ $rc = "$want" ] || fail "$*: status $rc, wanted $want ($(head -3 err.txt))"
  grep -q -- "$pat" err.txt || fail "$*: no '$pat' in: $(head -3 err.txt)"
  [ "$(wc -l <err.txt)" = 1 ] || fail "$*: more than one line: $(head -8 err.txt)"
  [ ! -e r.json ] || fail "$*: a report of zeros was written"
}

# report [zmem-options] -- program args: runs it, the text report in
# report.txt and the JSON in r.json; the program's status in $rc.
report() {
  local opts=()
  while [ "$1" != "--" ]; do opts+=("$1"); shift; done
  shift
  timeout 60 "$ZMEM" run --json r.json --output report.txt "${opts[@]}" -- "$@" \
    >out.txt 2>err.txt
  rc=$?
  [ $rc != 124 ] || fail "$*: zmem hung"
  [ -s report.txt ] || fail "$*: no report ($(head -3 err.txt))"
}

case $TEST in
start_failures)
  printf 'not a program\n' >notelf && chmod +x notelf
  refused 126 "Exec format error" ./notelf
  if [ "$(id -u)" = 0 ]; then
    # Set-user-ID to another user: the loader drops LD_PRELOAD.
    cp "$H/zmem_run_quick_exit" suid && chown 65534 suid && chmod u+s suid
    refused 126 "set-user-ID" ./suid
    cp "$H/zmem_run_quick_exit" sgid && chgrp 65534 sgid && chmod g+s sgid
    refused 126 "set-group-ID" ./sgid
    # Set-user-ID to oneself changes nothing: profiled, and no warning.
    cp "$H/zmem_run_quick_exit" own && chmod u+s own
    report -- ./own
    [ $rc = 7 ] || fail "own set-user-ID program: status $rc, wanted 7"
    [ ! -s err.txt ] || fail "a warning for a program zmem profiles: $(head -3 err.txt)"
    python3 -c 'import json; d = json.load(open("r.json"))
assert d["processes"][0]["allocations"] >= 100, d["processes"]' ||
      fail "own set-user-ID program not profiled"
  else
    passwd=$(command -v passwd) || skip "not root, and no passwd"
    [ -u "$passwd" ] || skip "not root, and passwd is not set-user-ID"
    refused 126 "set-user-ID" "$passwd" -S root
  fi ;;
*) fail "unknown test" ;;
esac
echo "PASS: $TEST"
