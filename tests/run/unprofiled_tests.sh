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

# left WORDS program args: runs it (a program that ends up writing its
# pid to pub/pid.txt and waiting) under zmem, kills it once zmem has had
# time to sample it, and wants WORDS on its row (text and JSON). Tried
# three times: the launcher names the kind only if a sample saw it.
left() {
  local words=$1 try
  shift
  mkdir -p pub && chmod 1777 pub
  for try in 1 2 3; do
    rm -f pub/pid.txt r.json report.txt
    timeout 60 "$ZMEM" run --interval 5 --json r.json --output report.txt -- "$@" \
      >out.txt 2>err.txt &
    local zpid=$! pid=
    for _ in $(seq 200); do [ -s pub/pid.txt ] && break; sleep 0.05; done
    pid=$(cat pub/pid.txt 2>/dev/null) || fail "$*: the program did not start"
    sleep 0.3 # samples every 5 ms
    kill -TERM "$pid"
    wait $zpid
    [ -s report.txt ] || fail "$*: no report ($(head -3 err.txt))"
    grep -q "not profiled" report.txt || fail "$*: not named: $(cat report.txt)"
    grep -q -- "^ *\^ .*$words" report.txt && break
  done
  grep -q -- "^ *\^ .*$words" report.txt || fail "$*: no '$words' on a row: $(cat report.txt)"
  python3 - "$words" <<'PY' || fail "$*: not_profiled in the JSON"
import json, sys
ps = json.load(open("r.json"))["processes"]
assert any(p["not_profiled"] and sys.argv[1] in p["not_profiled"] for p in ps), ps
PY
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
exec_static)
  [ -x "$H/zmem_run_static" ] || skip "no static C library"
  # The first process exec's a static program: named, whether or not a
  # sample saw it; its status is the static program's.
  report -- sh -c "exec '$H/zmem_run_static'"
  [ $rc = 7 ] || fail "status $rc, wanted 7"
  grep -q "^ *\^ exec'd .*not profiled" report.txt || fail "not named: $(cat report.txt)"
  left "exec'd a static program" sh -c "exec '$H/zmem_run_static_sleeper' pub/pid.txt" ;;
exec_setuid)
  [ "$(id -u)" = 0 ] || skip "not root: cannot make a program set-user-ID to another user"
  chmod 755 . # the program, as user 65534, writes pub/pid.txt
  cp "$H/zmem_run_sleeper" suid && chown 65534 suid && chmod u+s suid
  left "exec'd a set-user/group-ID program" sh -c "exec ./suid pub/pid.txt" ;;
exec_no_preload)
  left "LD_PRELOAD dropped" sh -c "exec env -u LD_PRELOAD '$H/zmem_run_sleeper' pub/pid.txt" ;;
daemon)
  # The first process ends while its child still runs: the child's row
  # says so. The child is killed by its pid afterwards.
  report -- sh -c "'$H/zmem_run_sleeper' pid.txt &
    for i in \$(seq 400); do [ -s pid.txt ] && exit 0; sleep 0.05; done; exit 1"
  pid=$(cat pid.txt 2>/dev/null) || fail "the child did not start"
  kill -KILL "$pid"
  [ $rc = 0 ] || fail "status $rc ($(head -3 err.txt))"
  grep -q " running  /" report.txt || fail "status not 'running': $(cat report.txt)"
  grep -q "^ *\^ still running when the first process ended" report.txt ||
    fail "not named: $(cat report.txt)"
  python3 -c 'import json
ps = json.load(open("r.json"))["processes"]
assert [p for p in ps if p["command"].endswith("pid.txt") and
        p["not_profiled"].startswith("still running")], ps' || fail "not in the JSON" ;;
bypass_exe_malloc)
  # The executable's own malloc comes first: the row says so, and how.
  report -- "$H/zmem_run_own_malloc"
  [ $rc = 0 ] || fail "status $rc ($(head -3 err.txt))"
  grep -q "^ *\^ most allocations bypass zmem: the executable defines malloc" report.txt ||
    fail "not named: $(cat report.txt)"
  python3 -c 'import json
p = json.load(open("r.json"))["processes"][0]
assert len(p["bypass"]) == 1 and "defines malloc" in p["bypass"][0], p["bypass"]' ||
    fail "not in the JSON"
  # A program with the C library's malloc has no such line.
  report -- "$H/zmem_run_quick_exit"
  ! grep -q "bypass" report.txt || fail "a bypass named wrongly: $(cat report.txt)" ;;
bypass_python)
  PY=/usr/bin/python3
  [ -x $PY ] || skip "no /usr/bin/python3"
  report -- env -u PYTHONMALLOC $PY -c 'x = [str(i) for i in range(10000)]'
  [ $rc = 0 ] || fail "status $rc ($(head -3 err.txt))"
  grep -q "^ *\^ most allocations bypass zmem: .*pymalloc.*PYTHONMALLOC=malloc" report.txt ||
    fail "pymalloc not named: $(cat report.txt)"
  python3 -c 'import json
ps = json.load(open("r.json"))["processes"]
assert [p for p in ps if any("PYTHONMALLOC=malloc" in b for b in p["bypass"])], ps' ||
    fail "not in the JSON"
  report -- env PYTHONMALLOC=malloc $PY -c 'x = [str(i) for i in range(10000)]'
  ! grep -q "bypass" report.txt || fail "named with PYTHONMALLOC=malloc: $(cat report.txt)" ;;
*) fail "unknown test" ;;
esac
echo "PASS: $TEST"
