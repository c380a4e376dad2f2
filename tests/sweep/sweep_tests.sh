#!/usr/bin/env bash
# Tests of `zmem run --fail/--fail-p/--seed` and `zmem sweep`.
#   sweep_tests.sh ZMEM HELPERS_DIR TEST
# HELPERS_DIR: the test programs built from this folder.
. "$(dirname "$0")/../script_test.sh" sweep "$@"
# json FILE PYTHON-EXPRESSION: the expression, with d the parsed file, must hold.
json() {
  python3 - "$1" "$2" <<'PY' || fail "check failed: $2 ($(head -c 300 "$1"))"
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
}
# bad PATTERN zmem-args...: exit status 2 and a message naming the problem.
bad() {
  local pat=$1
  shift
  "$ZMEM" "$@" >out.txt 2>err.txt </dev/null
  local rc=$?
  [ $rc = 2 ] || fail "zmem $*: status $rc, wanted 2 ($(head -2 err.txt))"
  grep -q -- "$pat" err.txt || fail "zmem $*: no '$pat' in: $(head -3 err.txt)"
  [ ! -s out.txt ] || fail "zmem $*: wrote to stdout"
}
# The program's requests come before its first output, so its request k is
# the process's request k.
NC=$H/zmem_sweep_nullcount
# none_left FILE: every pid in FILE (written by the hang or daemon program)
# is gone or a zombie within 10 s.
none_left() {
  [ -s "$1" ] || fail "the program wrote no pid"
  local pid left
  for _ in $(seq 100); do
    left=""
    while read -r pid; do
      st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status" 2>/dev/null)
      [ -n "$st" ] && [ "$st" != Z ] && left="$left $pid"
    done <"$1"
    [ -z "$left" ] && return 0
    sleep 0.1
  done
  # shellcheck disable=SC2086
  kill -KILL $left 2>/dev/null # not to leave them to the next tests
  fail "a step's process survived:$left"
}

case $TEST in
fail_nth)
  for k in 1 2 3 4 5 6 7 8 9 10 17 40; do
    "$ZMEM" run --fail $k -- "$NC" 40 >out.txt 2>rep.txt || fail "--fail $k: status $?"
    printf 'request %d failed: ENOMEM\n1 failed\n' $k | cmp -s - out.txt ||
      fail "--fail $k: the program saw: $(cat out.txt)"
    grep -q "allocation request $k failed (injected)" rep.txt ||
      fail "--fail $k: report: $(head -4 rep.txt)"
  done
  "$ZMEM" run --fail 1000 --json r.json -- "$NC" 40 >out.txt 2>rep.txt
  grep -qx "0 failed" out.txt || fail "--fail 1000: $(cat out.txt)"
  grep -q "no allocation request failed" rep.txt || fail "--fail 1000: $(head -4 rep.txt)"
  json r.json 'd["fault"] == "fault=1000:0" and d["processes"][0]["fault"]["injected"] == 0'
  "$ZMEM" run --fail 7 --json r.json -- "$NC" 40 >/dev/null 2>&1
  json r.json 'd["processes"][0]["fault"] == {"injected": 1, "first_request": 7, "site": None}' ;;
fail_repeat)
  "$ZMEM" run --fail 3:2 -- "$NC" 20 >out.txt 2>rep.txt
  printf 'request 3 failed: ENOMEM\nrequest 4 failed: ENOMEM\nrequest 5 failed: ENOMEM\n3 failed\n' |
    cmp -s - out.txt || fail "--fail 3:2: $(cat out.txt)"
  grep -q "allocation request 3 failed (injected), 3 failures injected in all" rep.txt ||
    fail "--fail 3:2 report: $(head -4 rep.txt)" ;;
fail_p)
  "$ZMEM" run --fail-p 0.3 --seed 7 -- "$NC" 300 >a.txt 2>/dev/null
  "$ZMEM" run --fail-p 0.3 --seed 7 -- "$NC" 300 >b.txt 2>/dev/null
  "$ZMEM" run --fail-p 0.3 --seed 8 -- "$NC" 300 >c.txt 2>/dev/null
  cmp -s a.txt b.txt || fail "same seed, other failures: $(diff a.txt b.txt | head -4)"
  ! cmp -s a.txt c.txt || fail "seeds 7 and 8 failed the same requests"
  n=$(tail -1 a.txt | cut -d' ' -f1)
  [ "$n" -ge 45 ] && [ "$n" -le 135 ] || fail "p=0.3 of 300 requests: $n failed"
  grep -v "failed: ENOMEM" a.txt | grep -qv "^$n failed" && fail "not ENOMEM: $(cat a.txt)"
  "$ZMEM" run --fail-p 0 -- "$NC" 50 2>/dev/null | grep -qx "0 failed" || fail "p=0"
  "$ZMEM" run --fail-p 1 -- "$NC" 50 2>/dev/null | grep -qx "50 failed" || fail "p=1" ;;
fail_fork)
  for k in 1 2 3; do
    "$ZMEM" run --fail $k -- "$H/zmem_sweep_forknum" 2>err.txt >/dev/null
    [ "$(grep -E '^(parent|child) ' err.txt)" = "parent $k" ] ||
      fail "--fail $k before the fork: $(cat err.txt)"
  done
  for k in 4 5 6; do
    "$ZMEM" run --fail $k -- "$H/zmem_sweep_forknum" 2>err.txt >/dev/null
    [ "$(grep -E '^(parent|child) ' err.txt | sort | tr '\n' ,)" = "child $k,parent $k," ] ||
      fail "--fail $k after the fork: $(cat err.txt)"
    grep -q "allocation request $k failed (injected) in pid" err.txt || fail "report: $(cat err.txt)"
  done
  "$ZMEM" sweep --json s.json -- "$H/zmem_sweep_forknum" >table.txt 2>&1 || fail "$(cat table.txt)"
  json s.json 'd["baseline"]["requests"] == 6 and len(d["steps"]) == 7'
  json s.json 'd["counts"]["clean"] + d["counts"]["handled"] == 7'
  json s.json 'd["complete"] and d["baseline_requests"] == [6, 6] and d["not_reproducible"] == []' ;;
bad_values)
  bad "--fail wants N" run --fail 0 -- "$NC"
  bad "--fail wants N" run --fail -3 -- "$NC"
  bad "--fail wants N" run --fail x -- "$NC"
  bad "--fail wants N" run --fail 3:x -- "$NC"
  bad "--fail wants N" run --fail 3: -- "$NC"
  bad "--fail wants N" run --fail 99999999999999999999999 -- "$NC"
  bad "--fail-p wants a probability" run --fail-p 1.5 -- "$NC"
  bad "--fail-p wants a probability" run --fail-p -0.1 -- "$NC"
  bad "--fail-p wants a probability" run --fail-p nan -- "$NC"
  bad "--fail-p wants a probability" run --fail-p 0.5x -- "$NC"
  bad "--seed wants a number" run --fail-p 0.5 --seed -1 -- "$NC"
  bad "--seed goes with --fail-p" run --seed 3 -- "$NC"
  bad "--fail needs a value" run --fail
  bad "--from wants a step" sweep --from 0 -- "$NC"
  bad "--to wants a step" sweep --to x -- "$NC"
  bad "--to is below --from" sweep --from 5 --to 4 -- "$NC"
  bad "--timeout wants seconds" sweep --timeout 0 -- "$NC"
  bad "--timeout wants seconds" sweep --timeout -1 -- "$NC"
  bad "--jobs wants a number" sweep --jobs 0 -- "$NC"
  bad "unknown option" sweep --frobnicate -- "$NC"
  bad "no program given" sweep --jobs 2
  bad "--per-site goes with --by-site" sweep --per-site 2 -- "$NC"
  bad "--per-site wants a number" sweep --by-site --per-site 11 -- "$NC"
  bad "--per-site wants a number" sweep --by-site --per-site 0 -- "$NC"
  bad "--seed goes with --shallow" sweep --seed 3 -- "$NC"
  bad "--shallow wants a number" sweep --shallow 0 -- "$NC"
  bad "--seed wants a number" sweep --shallow 3 --seed x -- "$NC"
  bad "--site-frames wants a number" sweep --by-site --site-frames 17 -- "$NC"
  bad "--site-frames wants a number" sweep --site-frames 0 -- "$NC"
  ZMEM_OPTIONS="stats=0, fault_p=0.5" bad "ZMEM_OPTIONS sets fault_p" run --fail 3 -- "$NC"
  ZMEM_OPTIONS="fault=2" bad "ZMEM_OPTIONS sets fault" sweep -- "$NC"
  ZMEM_OPTIONS="fault_seed=1" "$ZMEM" run -- "$NC" >/dev/null 2>&1 ||
    fail "run without --fail refused a ZMEM_OPTIONS fault key"
  "$ZMEM" sweep --help | grep -q -- "--timeout S" || fail "sweep --help" ;;
planted)
  "$ZMEM" sweep --json s.json --output table.txt -- "$H/zmem_sweep_planted" >out.txt 2>err.txt
  rc=$?
  [ ! -s out.txt ] || fail "wrote to stdout: $(head -3 out.txt)"
  ! grep -q "crash" err.txt || fail "the table went to stderr with --output: $(cat err.txt)"
  [ $rc = 1 ] || fail "status $rc, wanted 1: $(cat table.txt err.txt)"
  json s.json 'd["counts"] == {"clean": 1, "crash": 1, "hang": 0, "leak": 0, "error": 0, "changed": 0, "handled": 4}'
  json s.json '[s["step"] for s in d["steps"]] == [1, 2, 3, 4, 5, 6] and d["complete"]'
  json s.json 'd["incomplete_reason"] is None and d["not_reproducible"] == []'
  json s.json 'all(s["reproducible"] for s in d["steps"])'
  json s.json '[(s["step"], s["signal"]) for s in d["steps"] if s["result"] not in ("clean", "handled")] == [(4, "SIGSEGV")]'
  json s.json 'd["baseline"]["requests"] == 5 and d["steps"][5]["injected"] == 0'
  json s.json 'all(s["injected"] == 1 and s["first_request"] == s["step"] for s in d["steps"][:5])'
  [ "$(grep -c ' crash ' table.txt)" = 1 ] || fail "table: $(cat table.txt)"
  grep -q "^ *4  crash    SIGSEGV" table.txt || fail "table: $(cat table.txt)"
  grep -q "6 steps (1 to 6).*0 changed, 1 crash, 0 hang, 0 leak, 0 error, 4 handled, 1 clean" table.txt ||
    fail "summary: $(tail -1 table.txt)" ;;
planted_sites)
  line=$(grep -n PLANTED "$HERE/planted.c" | head -1 | cut -d: -f1)
  "$ZMEM" sweep --sites --json s.json -- "$H/zmem_sweep_planted" >table.txt 2>&1
  grep -q "^ *4  crash    SIGSEGV   at main planted.c:$line" table.txt ||
    fail "no site planted.c:$line in: $(cat table.txt)"
  json s.json "d['steps'][3]['site'].startswith('main planted.c:$line')" ;;
leak)
  "$ZMEM" sweep --sites --json s.json -- "$H/zmem_sweep_leaky" >table.txt 2>&1
  rc=$?
  [ $rc = 1 ] || fail "status $rc, wanted 1: $(cat table.txt)"
  json s.json '[(s["step"], s["result"]) for s in d["steps"] if s["result"] not in ("clean", "handled")] == [(3, "leak")]'
  json s.json 'd["steps"][2]["live_blocks"] - d["baseline"]["live_blocks"] == 2 and len(d["steps"]) == 5'
  grep -q "^ *3  leak     exit 0    +2 blocks  at main leaky.c:" table.txt ||
    fail "table: $(cat table.txt)" ;;
sort)
  command -v sort >/dev/null || skip "no sort"
  printf 'pear\napple\nfig\nbanana\ncherry\n10\n9\n' >in.txt
  sort <in.txt >want.txt
  "$ZMEM" sweep --logs logs --json s.json -- sort <in.txt >table.txt 2>&1
  rc=$?
  [ $rc = 0 ] || [ $rc = 1 ] || fail "status $rc: $(cat table.txt)"
  json s.json 'd["baseline"]["requests"] > 0 and d["complete"] and d["counts"]["hang"] == 0'
  json s.json 'd["not_reproducible"] == [] and len(set(d["baseline_requests"])) == 1'
  json s.json '[s["step"] for s in d["steps"]] == list(range(1, len(d["steps"]) + 1))'
  json s.json 'len(d["steps"]) == d["baseline"]["requests"] + 1 and d["steps"][-1]["injected"] == 0'
  json s.json 'all(s["result"] in ("clean", "handled", "changed", "crash", "leak", "error") for s in d["steps"])'
  cmp -s want.txt logs/baseline.log || fail "baseline output: $(head -3 logs/baseline.log)"
  # Every step read the same stdin: each one that succeeded wrote it sorted.
  python3 - s.json <<'PY' || fail "a step that exited 0 did not see the whole input"
import json, sys
d = json.load(open(sys.argv[1]))
want = open("want.txt").read()
ok = [s["step"] for s in d["steps"] if s["exit_status"] == 0]
assert ok, "no step exited 0"
bad = [n for n in ok if open("logs/step-%d.log" % n).read() != want]
sys.exit(1 if bad else 0)
PY
  ;;
sqlite)
  command -v sqlite3 >/dev/null || skip "no sqlite3"
  printf 'create table t(a integer primary key, b text);\ninsert into t values (1, %s), (2, %s);\nselect b from t order by a;\n' "'one'" "'two'" >in.sql
  "$ZMEM" sweep --json s.json -- sqlite3 :memory: <in.sql >table.txt 2>&1
  rc=$?
  [ $rc = 0 ] || [ $rc = 1 ] || fail "status $rc: $(cat table.txt)"
  json s.json 'd["baseline"]["requests"] > 100 and d["complete"] and d["counts"]["hang"] == 0'
  json s.json 'd["not_reproducible"] == [] and len(set(d["baseline_requests"])) == 1'
  json s.json '[s["step"] for s in d["steps"]] == list(range(1, len(d["steps"]) + 1))'
  json s.json 'sum(d["counts"].values()) == len(d["steps"]) and d["steps"][-1]["injected"] == 0'
  json s.json 'd["counts"]["error"] == 0' ;;
hang)
  start=$(date +%s)
  export ZMEM_TEST_PIDS=$PWD/pids.txt
  "$ZMEM" sweep --timeout 1 --json s.json -- "$H/zmem_sweep_hang" >table.txt 2>&1
  rc=$?
  [ $rc = 1 ] || fail "status $rc: $(cat table.txt)"
  json s.json '[(s["step"], s["result"]) for s in d["steps"]] == [(1, "hang"), (2, "clean")]'
  grep -q "^ *1  hang     killed" table.txt || fail "table: $(cat table.txt)"
  [ $(($(date +%s) - start)) -lt 20 ] || fail "took too long"
  none_left pids.txt ;;
interrupt)
  export ZMEM_TEST_PIDS=$PWD/pids.txt
  "$ZMEM" sweep --timeout 100 --logs logs --json s.json -- "$H/zmem_sweep_hang" \
    >table.txt 2>&1 &
  pid=$!
  # Once step 1 (which hangs) has started, and a moment for step 2 to end.
  for _ in $(seq 300); do [ -e logs/step-1.log ] && break; sleep 0.1; done
  sleep 1
  kill -INT $pid
  wait $pid
  rc=$?
  [ $rc = 130 ] || fail "status $rc after SIGINT: $(cat table.txt)"
  grep -q "interrupted" table.txt || fail "no report: $(cat table.txt)"
  json s.json 'd["interrupted"] and d["counts"]["hang"] == 0'
  none_left pids.txt ;;
nondet_random)
  # 1 to 512 requests, drawn in each run: two baseline runs and the steps
  # agree on every request only about once in 250000 sweeps.
  "$ZMEM" sweep --json s.json -- "$H/zmem_sweep_nondet" random >table.txt 2>&1
  rc=$?
  [ $rc = 3 ] || fail "status $rc, wanted 3: $(tail -5 table.txt)"
  json s.json 'not d["complete"] and d["incomplete_reason"] == "not reproducible"'
  json s.json 'd["not_reproducible"] and d["not_reproducible"] == [s["step"] for s in d["steps"] if not s["reproducible"]]'
  json s.json 'd["counts"]["crash"] == 0 and len(d["baseline_requests"]) == 2'
  grep -q "not reproducible" table.txt || fail "table: $(cat table.txt)"
  grep -q "; incomplete: .* not reproducible" table.txt || fail "summary: $(tail -1 table.txt)" ;;
nondet_once)
  # Only the first run to create the file makes request 4 (unchecked): one
  # baseline run makes 4 requests, the other and every step 3.
  "$ZMEM" sweep --json s.json -- "$H/zmem_sweep_nondet" once "$PWD/made" >table.txt 2>&1
  rc=$?
  [ $rc = 3 ] || fail "status $rc, wanted 3: $(cat table.txt)"
  json s.json 'sorted(d["baseline_requests"]) == [3, 4] and not d["complete"]'
  json s.json 'd["not_reproducible"] == [4] and [s["step"] for s in d["steps"]] == [1, 2, 3, 4, 5]'
  json s.json 'd["incomplete_reason"] == "not reproducible" and d["steps"][3]["injected"] == 0'
  grep -q "^ *4  clean    exit 0    not reproducible" table.txt || fail "table: $(cat table.txt)"
  grep -q "baseline runs disagree: 3, 4 allocation requests\|baseline runs disagree: 4, 3 allocation requests" table.txt ||
    fail "table: $(cat table.txt)"
  "$ZMEM" sweep --help | grep -q "^ *3 " || fail "--help does not name status 3" ;;
baselines)
  "$ZMEM" sweep --baselines 3 --json s.json -- "$H/zmem_sweep_forknum" >table.txt 2>&1 ||
    fail "$(cat table.txt)"
  json s.json 'd["baseline_requests"] == [6, 6, 6] and d["complete"]'
  bad "--baselines wants a number" sweep --baselines 1 -- "$NC"
  bad "--baselines wants a number" sweep --baselines x -- "$NC" ;;
daemon | daemon_jobs2 | daemon_hang)
  # Every run leaves a daemon (its own session, so out of the step's process
  # group); daemon_hang: step 1 also hangs and is killed at the timeout.
  export ZMEM_TEST_PIDS=$PWD/pids.txt
  args="--jobs 1" && mode=end && want="[(1, 'clean'), (2, 'clean')]"
  [ "$TEST" = daemon_jobs2 ] && args="--jobs 2"
  [ "$TEST" = daemon_hang ] && args="--jobs 2 --timeout 1" && mode=hang &&
    want="[(1, 'hang'), (2, 'clean')]"
  # shellcheck disable=SC2086
  "$ZMEM" sweep $args --json s.json -- "$H/zmem_sweep_daemon" $mode >table.txt 2>&1
  rc=$?
  [ $rc = 0 ] || [ $rc = 1 ] || fail "status $rc: $(cat table.txt)"
  json s.json "[(s['step'], s['result']) for s in d['steps']] == $want"
  none_left pids.txt
  [ "$(wc -l <pids.txt)" -ge 4 ] || fail "daemons: $(cat pids.txt)" ;;
logs_links)
  # The program plants logs/step-N.log -> victim before the steps run.
  echo precious >victim
  ZMEM_TEST_LOGS=$PWD/logs ZMEM_TEST_VICTIM=$PWD/victim "$ZMEM" sweep --jobs 1 --logs logs \
    --json s.json -- "$H/zmem_sweep_plant" >table.txt 2>err.txt
  rc=$?
  [ "$(cat victim)" = precious ] || fail "the link's target was written: $(head -3 victim)"
  [ $rc = 0 ] || fail "status $rc: $(cat table.txt err.txt)"
  json s.json 'd["complete"] and [s["step"] for s in d["steps"]] == [1, 2, 3, 4]'
  [ -L logs/step-1.log ] || fail "the planted link went"
  grep -q "logs/step-1.log" err.txt || fail "no word of the link: $(cat err.txt)"
  grep -qx "plant: done" logs/baseline.log || fail "baseline.log: $(cat logs/baseline.log)" ;;
logs_exists)
  mkdir logs
  bad "logs exists" sweep --logs logs -- "$NC" 3
  ln -s logs link
  bad "link exists" sweep --logs link -- "$NC" 3
  [ -z "$(ls logs)" ] || fail "wrote into an existing directory: $(ls logs)"
  "$ZMEM" sweep --ignore-output --logs new -- "$NC" 3 >/dev/null 2>&1 || fail "--logs new: status $?"
  [ -s new/baseline.log ] && [ -s new/step-1.log ] || fail "new: $(ls new)"
  [ -e new/baseline.err ] && [ -e new/step-1.err ] || fail "no stderr files: $(ls new)" ;;
changed)
  # Step 2 fails the optional cache: the sum printed changes, exit 0, no word.
  line=$(grep -n SILENT "$HERE/silent.c" | head -1 | cut -d: -f1)
  "$ZMEM" sweep --sites --json s.json -- "$H/zmem_sweep_silent" >table.txt 2>&1
  rc=$?
  [ $rc = 1 ] || fail "status $rc, wanted 1: $(cat table.txt)"
  json s.json '[(s["step"], s["result"]) for s in d["steps"]] == [(1, "handled"), (2, "changed"), (3, "handled"), (4, "clean")]'
  json s.json 'd["counts"]["changed"] == 1 and d["counts"]["handled"] == 2 and d["outputs_compared"]'
  grep -q "^ *2  changed  exit 0    stdout differs from the baseline's  at main silent.c:$line" table.txt ||
    fail "table: $(cat table.txt)"
  [ "$(grep -c '^ *[0-9]  ' table.txt)" = 1 ] || fail "rows: $(cat table.txt)"
  grep -q "^4 steps (1 to 4).*1 changed, .* 2 handled, 1 clean" table.txt ||
    fail "summary: $(tail -1 table.txt)" ;;
ignore_output)
  "$ZMEM" sweep --ignore-output --json s.json -- "$H/zmem_sweep_silent" >table.txt 2>&1
  rc=$?
  [ $rc = 0 ] || fail "--ignore-output: status $rc, wanted 0: $(cat table.txt)"
  json s.json '[s["result"] for s in d["steps"]] == ["handled", "clean", "clean", "clean"] and not d["outputs_compared"]'
  # Its pid printed: the baseline runs' outputs differ, and are not compared.
  "$ZMEM" sweep --json s.json -- "$H/zmem_sweep_silent" pid >table.txt 2>&1
  rc=$?
  [ $rc = 0 ] || fail "pid: status $rc, wanted 0: $(cat table.txt)"
  grep -q "outputs are not compared" table.txt || fail "no word: $(cat table.txt)"
  json s.json 'd["counts"]["changed"] == 0 and not d["outputs_compared"]' ;;
streams)
  # The table goes to stderr, as zmem run's report: stdout is the program's.
  "$ZMEM" sweep -- "$H/zmem_sweep_planted" >out.txt 2>err.txt
  [ ! -s out.txt ] || fail "wrote to stdout: $(head -3 out.txt)"
  grep -q "^6 steps (1 to 6)" err.txt || fail "no table on stderr: $(cat err.txt)"
  "$ZMEM" sweep --to 1 -- "$H/zmem_sweep_planted" >out.txt 2>err.txt
  grep -q "^1 step (1 to 1)" err.txt || fail "one step: $(tail -1 err.txt)"
  bad "cannot write --output" sweep --output /nonexistent/t.txt -- "$NC" ;;
progress_log)
  # stderr not a terminal: a progress line every 10 s. Step 1 hangs for
  # 12 s; step 2 ends at once: the line at 10 s says 1 of 2 steps done.
  export ZMEM_TEST_PIDS=$PWD/pids.txt
  "$ZMEM" sweep --jobs 2 --timeout 12 -- "$H/zmem_sweep_hang" >out.txt 2>err.txt
  rc=$?
  [ $rc = 1 ] || fail "status $rc: $(cat err.txt)"
  grep -q "^zmem sweep: 1 of 2 steps done; 0 changed, 0 crash, 0 hang, 0 leak, 0 error$" err.txt ||
    fail "no progress line: $(cat err.txt)"
  none_left pids.txt ;;
by_site)
  # 3000 checked requests from one site, then the unchecked one (request
  # 3001) from another: one step per site finds it.
  MS=$H/zmem_sweep_manysites
  "$ZMEM" sweep --by-site --json s.json -- "$MS" >out.txt 2>table.txt
  rc=$?
  [ $rc = 1 ] || fail "status $rc, wanted 1: $(cat table.txt)"
  json s.json 'd["baseline"]["requests"] == 3001 and len(d["steps"]) <= 5'
  json s.json '[(s["step"], s["result"]) for s in d["steps"] if s["result"] == "crash"] == [(3001, "crash")]'
  json s.json 'd["mode"]["by_site"] and d["mode"]["per_site"] == 1 and d["mode"]["site_frames"] == 3'
  json s.json 'd["coverage"]["sites_seen"] == d["coverage"]["sites_failed"] >= 2 and d["complete"]'
  grep -q "steps (by site, 1 per site)" table.txt || fail "summary: $(cat table.txt)"
  grep -q "^coverage: \([0-9]*\) of \1 call sites" table.txt || fail "coverage: $(cat table.txt)" ;;
per_site)
  # The loop's site: its first, last and calls 2, 4 (four requests).
  "$ZMEM" sweep --by-site --per-site 4 --json s.json -- "$H/zmem_sweep_manysites" >/dev/null 2>&1
  json s.json 'd["mode"]["per_site"] == 4 and {1, 2, 4, 3000, 3001} <= {s["step"] for s in d["steps"]}'
  json s.json 'len(d["steps"]) <= 12 and d["counts"]["crash"] == 1' ;;
persistent)
  # Each request is retried once: only a failure that persists crashes.
  "$ZMEM" sweep --json s.json -- "$H/zmem_sweep_persist" >/dev/null 2>table.txt
  [ $? = 0 ] || fail "one failure at a time: $(cat table.txt)"
  "$ZMEM" sweep --persistent --json s.json -- "$H/zmem_sweep_persist" >/dev/null 2>table.txt
  [ $? = 1 ] || fail "--persistent: $(cat table.txt)"
  json s.json '[(s["step"], s["result"]) for s in d["steps"]] == [(1, "crash"), (2, "crash"), (3, "clean")]'
  json s.json 'd["mode"]["persistent"] and d["steps"][0]["injected"] >= 2'
  "$ZMEM" sweep --persistent --by-site --json s.json -- "$H/zmem_sweep_persist" >/dev/null 2>&1
  json s.json 'd["counts"]["crash"] == 2 and d["mode"]["by_site"]' ;;
shallow)
  MS=$H/zmem_sweep_manysites
  "$ZMEM" sweep --shallow 5 --seed 11 --json a.json -- "$MS" >/dev/null 2>&1
  "$ZMEM" sweep --shallow 5 --seed 11 --json b.json -- "$MS" >/dev/null 2>&1
  "$ZMEM" sweep --shallow 5 --seed 12 --json c.json -- "$MS" >/dev/null 2>&1
  python3 - <<'PY' || fail "shallow steps: $(head -c 400 a.json)"
import json
a, b, c = (json.load(open(n + ".json")) for n in "abc")
steps = lambda d: [s["step"] for s in d["steps"]]
assert len(steps(a)) == 5 and steps(a) == sorted(steps(a)), steps(a)
assert steps(a) == steps(b) and steps(a) != steps(c), (steps(a), steps(c))
assert all(1 <= s <= 3002 for s in steps(a))
assert a["mode"]["shallow"] == 5 and a["mode"]["seed"] == 11
assert a["incomplete_reason"] == "shallow" and not a["complete"]
# Steps inside the loop's run of requests count its site as failed.
loop = any(s <= 3000 for s in steps(a))
assert a["coverage"]["sites_failed"] >= (1 if loop else 0)
PY
  "$ZMEM" sweep --shallow 100 --to 10 --json s.json -- "$MS" >/dev/null 2>&1
  json s.json '[s["step"] for s in d["steps"]] == list(range(1, 11))' ;;
sqlite_by_site)
  # The same findings as the sweep per request, in at most a fifth of the steps.
  command -v sqlite3 >/dev/null || skip "no sqlite3"
  printf 'create table t(a integer primary key, b text);\ninsert into t values (1, %s), (2, %s);\nselect b from t order by a;\n' "'one'" "'two'" >in.sql
  "$ZMEM" sweep --json req.json -- sqlite3 :memory: <in.sql >/dev/null 2>&1
  "$ZMEM" sweep --by-site --json site.json -- sqlite3 :memory: <in.sql >/dev/null 2>&1
  python3 - <<'PY' || fail "by site: $(head -c 300 site.json)"
import json
req, site = json.load(open("req.json")), json.load(open("site.json"))
found = lambda d: sorted((s["step"], s["result"]) for s in d["steps"] if s["result"] in ("crash", "leak", "hang", "changed"))
assert found(req) == found(site), (found(req), found(site))
assert 5 * len(site["steps"]) <= len(req["steps"]), (len(site["steps"]), len(req["steps"]))
assert site["coverage"]["sites_failed"] == site["coverage"]["sites_seen"]
PY
  ;;
check_valgrind)
  # Step 4's unchecked request: memcheck names the write through NULL.
  line=$(grep -n "buffer\[0\] = " "$HERE/planted.c" | head -1 | cut -d: -f1)
  command -v valgrind >/dev/null || skip "no valgrind"
  "$ZMEM" sweep --check valgrind --json s.json -- "$H/zmem_sweep_planted" >/dev/null 2>table.txt
  [ $? = 1 ] || fail "status: $(cat table.txt)"
  json s.json 'd["check"] == "valgrind" and d["checked"] == 1'
  # clang's DWARF 5 in the preload stops valgrind 3.19's reader outright.
  grep -q "debuginfo reader" table.txt && skip "valgrind cannot read this build's debug information"
  json s.json '[s["step"] for s in d["steps"] if s["valgrind"]] == [4]'
  json s.json '"Invalid write of size 1" in d["steps"][3]["valgrind"]'
  json s.json '"main (planted.c:'"$line"')" in d["steps"][3]["valgrind"]'
  grep -q "^ *valgrind: Invalid write of size 1" table.txt || fail "table: $(cat table.txt)"
  # No valgrind to be found: said, and the sweep's results stand.
  PATH=/nonexistent "$ZMEM" sweep --check valgrind --json s.json -- "$H/zmem_sweep_planted" \
    >/dev/null 2>table.txt
  [ $? = 1 ] || fail "status without valgrind: $(cat table.txt)"
  grep -q "valgrind is not installed" table.txt || fail "no word: $(cat table.txt)"
  json s.json 'd["check"] is None and d["counts"]["crash"] == 1'
  bad "--check wants 'valgrind'" sweep --check asan -- "$NC" ;;
*)
  fail "unknown test" ;;
esac
exit 0
