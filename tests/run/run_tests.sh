#!/usr/bin/env bash
# Tests of `zmem run` on real programs, bad input and gates.
#   run_tests.sh ZMEM HELPERS_DIR TEST
# ZMEM: the zmem command; HELPERS_DIR: the test programs built from this
# folder. Each "same" test runs a program plain and under `zmem run` and
# wants the same stdout and exit status, and a valid JSON report.
. "$(dirname "$0")/../script_test.sh" run "$@"
check() { python3 "$HERE/check.py" "$@" || fail "report check failed: $*"; }

# same [zmem-options] -- program args: compares stdout and status.
same() {
  local opts=()
  while [ "$1" != "--" ]; do opts+=("$1"); shift; done
  shift
  "$@" >plain.out 2>plain.err
  local rc1=$?
  "$ZMEM" run --json r.json --output report.txt "${opts[@]}" -- "$@" >zmem.out 2>zmem.err
  local rc2=$?
  [ $rc1 = $rc2 ] || fail "exit status $rc1 plain, $rc2 under zmem ($(head -3 zmem.err))"
  cmp -s plain.out zmem.out || fail "stdout differs under zmem: $(diff plain.out zmem.out | head -5)"
  [ -s report.txt ] || fail "no report"
  grep -q "heap peak" report.txt || fail "report without a heap peak"
}

# hostile MODE [zmem-options] [-- args]: the record-attacking program under
# zmem; its own status (3), no hang, a report and valid JSON.
hostile() {
  local mode=$1 opts=()
  shift
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do opts+=("$1"); shift; done
  [ "${1:-}" = "--" ] && shift
  rm -f report.txt r.json
  timeout 60 "$ZMEM" run --json r.json --output report.txt "${opts[@]}" -- \
    "$H/zmem_run_hostile" "$mode" "$@" >/dev/null 2>err.txt
  local rc=$?
  [ $rc != 124 ] || fail "$mode: zmem hung"
  [ $rc = 3 ] || fail "$mode: status $rc, wanted the program's 3 ($(head -3 err.txt))"
  [ -s report.txt ] || fail "$mode: no report"
  python3 -c 'import json, sys; json.load(open(sys.argv[1]))' r.json ||
    fail "$mode: invalid JSON"
}

# held LIB [VAR=VALUE...]: the live figures at exit of zmem_run_held with
# its blocks, less those without, are the sums it wrote (the usable sizes
# asked of the allocator LIB itself), whichever allocator is below zmem.
held() {
  local lib=$1 mode
  shift
  for mode in 0 1; do
    env "$@" "$ZMEM" run --quiet --json "r$mode.json" -- "$H/zmem_run_held" "$lib" $mode \
      >"out$mode.txt" 2>"err$mode.txt" || fail "$lib: status $? ($(head -3 "err$mode.txt"))"
  done
  python3 - <<'PY' || fail "$lib: the live figures differ from the allocator's"
import json
want_req, want_held = map(int, open("out1.txt").read().split())
p0, p1 = (json.load(open(f"r{m}.json"))["processes"][0] for m in (0, 1))
req = p1["live_requested_bytes"] - p0["live_requested_bytes"]
held = p1["live_held_bytes"] - p0["live_held_bytes"]
assert (req, held) == (want_req, want_held), ((req, held), (want_req, want_held))
PY
}

# jq_py CODE: python with d = the JSON report r.json.
jq_py() {
  python3 -c "import json; d = json.load(open('r.json'))
$1" || fail "report check: $1"
}

# bad EXPECTED-STATUS PATTERN zmem-args...: a clear message, that status.
bad() {
  local want=$1 pat=$2
  shift 2
  "$ZMEM" "$@" >out.txt 2>err.txt
  local rc=$?
  [ $rc = "$want" ] || fail "zmem $*: status $rc, wanted $want ($(head -2 err.txt))"
  grep -q -- "$pat" err.txt || fail "zmem $*: no '$pat' in: $(head -3 err.txt)"
  [ "$(wc -l <err.txt)" -le 25 ] || fail "zmem $*: message too long"
  [ ! -s out.txt ] || [ "$*" = "" ] || fail "zmem $*: wrote to stdout"
}

case $TEST in
python)
  command -v python3 >/dev/null || skip "no python3"
  PY=$(command -v /usr/bin/python3 || command -v python3)
  export PYTHONMALLOC=malloc
  same -- "$PY" -c 'import json,collections
d=collections.Counter(str(i%97) for i in range(200000))
print(len(json.dumps([list(range(i)) for i in range(300)])), d.most_common(2))'
  check r.json procs=1 exit=0 min_peak=100000 ;;
table)
  # The memory zmem adds to the program, its table of live blocks (8 bytes
  # a slot, 24 with sites, at most 2/3 full), is reported and grows with
  # the blocks: 200,000 bytearrays are 400,000 live blocks at the peak.
  command -v python3 >/dev/null || skip "no python3"
  PY=$(command -v /usr/bin/python3 || command -v python3)
  export PYTHONMALLOC=malloc
  for opt in "" --sites; do
    same $opt -- "$PY" -c 'x = [bytearray(100) for i in range(200000)]; print(len(x))'
    grep -q "zmem's table" report.txt || fail "no line for zmem's table: $(head -8 report.txt)"
    python3 - r.json "${opt:-plain}" <<'PY' || fail "zmem's table not reported right ($opt)"
import json, sys
d = json.load(open(sys.argv[1]))
p = d["processes"][0]
t, n = p["zmem_table_peak_bytes"], p["allocations"]
per_block = 36 if sys.argv[2] == "--sites" else 12
assert t >= per_block * 400000, f"{t} bytes for 400,000 live blocks"
assert t <= 4 * per_block * n + (4 << 20), f"{t} bytes for {n} allocations"
assert d["summary"]["zmem_table_peak_bytes"] == t, d["summary"]
PY
  done ;;
sqlite)
  command -v sqlite3 >/dev/null || skip "no sqlite3"
  sqlite3 db.sqlite "create table t(a integer primary key, b text);
    with recursive c(x) as (select 1 union all select x+1 from c where x<20000)
    insert into t select x, printf('row %d %s', x, hex(randomblob(8))) from c;" ||
    fail "could not make the database"
  same -- sqlite3 db.sqlite "select count(*), sum(length(b)) from t; select a from t order by b limit 3;"
  check r.json procs=1 exit=0 min_peak=10000 ;;
sort)
  seq 1 100000 | awk '{print ($1 * 7919) % 100003}' >in.txt
  same -- sort -n in.txt
  check r.json procs=1 exit=0 min_peak=10000 ;;
gcc)
  command -v gcc >/dev/null || skip "no gcc"
  printf 'int add(int a, int b) { return a + b; }\nint main(void) { return add(1, 2) - 3; }\n' >s.c
  same -- gcc -c s.c -o s.o
  [ -s s.o ] || fail "gcc wrote no object"
  check r.json min_procs=2 exit=0 min_execs=1 ;;
threads)
  same -- "$H/zmem_run_threads" 4
  check r.json procs=1 exit=0 min_threads=5 ;;
handoff)
  # A block allocated by a thread that has exited counts in the peak.
  same -- "$H/zmem_run_handoff"
  check r.json procs=1 exit=0 min_peak=260000 ;;
threads8)
  # 8 threads must not collapse: the run completes and every call counts.
  same -- "$H/zmem_run_threads" 8
  check r.json procs=1 exit=0 min_threads=9
  python3 - r.json <<'PY' || fail "calls lost with 8 threads"
import json, sys
p = json.load(open(sys.argv[1]))["processes"][0]
m = p["functions"]["malloc"]["calls"]
if m < 8 * 200000:
    sys.exit(f"malloc calls {m} < {8 * 200000}")
if p["live_blocks"] > 100:
    sys.exit(f"{p['live_blocks']} blocks live after every thread freed its own")
PY
  ;;
fork)
  same -- "$H/zmem_run_forker"
  check r.json procs=2 exit=0 forks=1
  python3 - r.json <<'PY' || fail "fork child's figures"
import json, sys
ps = json.load(open(sys.argv[1]))["processes"]
child = [p for p in ps if p["origin"] == "fork"][0]
if child["status"] != {"kind": "exit", "exit_status": 3}:
    sys.exit(f"child status {child['status']}")
if not (3 << 20) <= child["peak_requested_bytes"] <= (3 << 20) + 200000:
    sys.exit(f"child peak {child['peak_requested_bytes']}")
if child["inherited_requested_bytes"] < 100000:
    sys.exit("the child did not inherit the parent's block")
PY
  ;;
pipeline)
  seq 1 5000 >in.txt
  same -- sh -c 'sort -r in.txt | head -n 3 | tr 0-9 a-j'
  check r.json min_procs=4 exit=0
  same --no-children -- sh -c 'sort -r in.txt | head -n 3 | tr 0-9 a-j'
  check r.json procs=1 exit=0 ;;
dlopen)
  same -- "$H/zmem_run_dl_main" "$H/libzmem_run_dl_lib.so"
  check r.json procs=1 exit=0 min_peak=500000 ;;
_exit)
  same -- "$H/zmem_run_quick_exit"
  check r.json procs=1 exit=7 status=exit min_leaked=100000 ;;
sigkill)
  "$ZMEM" run --json r.json --output report.txt -- "$H/zmem_run_sleeper" pid.txt &
  zpid=$!
  for _ in $(seq 100); do [ -s pid.txt ] && break; sleep 0.1; done
  [ -s pid.txt ] || fail "the program did not start"
  kill -KILL "$(cat pid.txt)"
  wait $zpid
  rc=$?
  [ $rc = 137 ] || fail "status $rc, wanted 137 (128 + SIGKILL)"
  check r.json procs=1 exit=137 status=signal min_peak=10000000 min_leaked=10000000
  grep -q "killed by SIGKILL" report.txt || fail "report does not say SIGKILL" ;;
memusage)
  command -v memusage >/dev/null || skip "no memusage (libc-devtools)"
  python3 "$HERE/memusage_compare.py" "$ZMEM" "$H/zmem_run_churn" ||
    fail "zmem and memusage disagree"
  PY=$(command -v /usr/bin/python3 || command -v python3)
  PYTHONMALLOC=malloc python3 "$HERE/memusage_compare.py" --calls-slack 5 "$ZMEM" \
    "$PY" -c 'print(sum(len(str(list(range(i)))) for i in range(300)))' ||
    fail "zmem and memusage disagree on python3" ;;
outputs)
  "$ZMEM" run --quiet --json r.json --plot p.svg --trace t.json --interval 5 -- \
    "$H/zmem_run_forker" >/dev/null 2>err.txt || fail "run failed: $(cat err.txt)"
  [ ! -s err.txt ] || fail "--quiet still wrote: $(head -2 err.txt)"
  check r.json procs=2
  python3 -c 'import json,sys; d=json.load(open("t.json")); e=d["traceEvents"]
assert any(x["ph"]=="C" for x in e), "no counter events"' || fail "trace"
  python3 -c 'import xml.dom.minidom,sys; d=xml.dom.minidom.parse("p.svg")
assert d.getElementsByTagName("polyline"), "no lines"
assert any("peak" in t.toxml() for t in d.getElementsByTagName("text")), "no peak"' ||
    fail "svg"
  ls -a | grep -q '^\.zmem-' && fail "a temporary file was left behind"
  true ;;
gates)
  "$ZMEM" run --quiet --json base.json -- "$H/zmem_run_quick_exit" >/dev/null || true
  "$ZMEM" run --quiet --max-peak 1K -- "$H/zmem_run_quick_exit" >/dev/null 2>err.txt
  [ $? = 99 ] || fail "--max-peak did not exit 99"
  grep -q "gate --max-peak" err.txt || fail "no --max-peak message"
  [ "$(wc -l <err.txt)" -le 5 ] || fail "gate message over 5 lines"
  "$ZMEM" run --quiet --max-peak 1M --max-leaked 1M -- "$H/zmem_run_quick_exit" >/dev/null
  [ $? = 7 ] || fail "a gate that holds must give the program's status"
  "$ZMEM" run --quiet --max-leaked 0 -- "$H/zmem_run_quick_exit" >/dev/null 2>err.txt
  [ $? = 99 ] && grep -q "gate --max-leaked" err.txt || fail "--max-leaked 0"
  "$ZMEM" run --quiet --baseline base.json --max-increase 5 -- "$H/zmem_run_quick_exit" >/dev/null
  [ $? = 7 ] || fail "same peak as the baseline must pass"
  sed 's/"peak_requested_bytes": [0-9]*/"peak_requested_bytes": 1000/' base.json >small.json
  "$ZMEM" run --quiet --baseline small.json --max-increase 5% -- "$H/zmem_run_quick_exit" >/dev/null 2>err.txt
  [ $? = 99 ] && grep -q "gate --max-increase" err.txt || fail "--max-increase" ;;
bad_input)
  bad 2 "no program given" run
  bad 2 "no program given" run --json x.json --
  bad 127 "command not found" run -- zmem-no-such-program
  bad 127 "No such file" run -- ./no/such/file
  printf 'x' >notexec && chmod -x notexec
  bad 126 "not an executable" run -- ./notexec
  bad 126 "not an executable" run -- /
  bad 2 "unknown option" run --frobnicate -- true
  bad 2 "unknown command" frobnicate
  bad 2 "max-peak wants a size" run --max-peak 12Q -- true
  bad 2 "max-peak wants a size" run --max-peak -5 -- true
  bad 2 "max-leaked wants a size" run --max-leaked "" -- true
  bad 2 "max-increase wants a percentage" run --baseline x --max-increase ten -- true
  bad 2 "interval wants" run --interval 0 -- true
  bad 2 "go together" run --max-increase 5 -- true
  bad 2 "needs a value" run --json
  bad 2 "cannot write" run --json /nonexistent-dir/r.json -- true
  bad 2 "cannot write" run --plot /proc/p.svg -- true
  echo '{"hello": 1}' >notours.json
  bad 2 "not a zmem run report" run --baseline notours.json --max-increase 5 -- true
  echo 'not json' >garbage.json
  bad 2 "not a zmem run report" run --baseline garbage.json --max-increase 5 -- true
  bad 2 "zmem-no-such-file" run --baseline zmem-no-such-file --max-increase 5 -- true
  # The program must not have run when an output path is bad.
  "$ZMEM" run --json /nonexistent-dir/r.json -- touch ran.txt 2>/dev/null
  [ ! -e ran.txt ] || fail "the program ran although --json was unwritable"
  if [ -x "$H/zmem_run_static" ]; then
    bad 126 "statically linked" run -- "$H/zmem_run_static"
  fi
  # Set-user-ID programs: tests/run/unprofiled_tests.sh start_failures.
  ;;
scribble)
  # A program that destroys the record's header, or a process record: the
  # program's status, and a report that says what could not be read.
  "$ZMEM" run --output report.txt -- "$H/zmem_run_scribble" >/dev/null 2>err.txt
  rc=$?
  [ $rc = 0 ] || fail "header overwritten: status $rc, wanted the program's 0 ($(head -2 err.txt))"
  grep -q "destroyed zmem's shared record" report.txt || fail "no clear line: $(cat report.txt)"
  "$ZMEM" run --output report.txt -- "$H/zmem_run_scribble" procs >/dev/null 2>err.txt
  rc=$?
  [ $rc = 0 ] || fail "process record overwritten: status $rc, wanted 0 ($(head -2 err.txt))"
  grep -q "untrusted" report.txt || fail "the bad row is not marked: $(cat report.txt)" ;;
hostile_counters)
  hostile counters
  jq_py 'p = d["processes"][0]; assert "calls beside" in p["untrusted"], p["untrusted"]
assert d["summary"]["processes_untrusted"] == 1 and d["summary"]["allocations"] == 0, d["summary"]'
  grep -q "untrusted.*malloc: 18446744073709551360 calls beside" report.txt ||
    fail "the row is not marked: $(cat report.txt)" ;;
hostile_header)
  hostile header
  jq_py 'assert d["record_lost"] and d["exit_status"] == 3 and d["processes"] == [], d'
  grep -q "destroyed zmem's shared record" report.txt || fail "no clear line: $(cat report.txt)" ;;
hostile_depth)
  hostile depth --sites
  grep -q "not readable: stack table" report.txt || fail "deep stacks not refused: $(cat report.txt)" ;;
hostile_fifo)
  mkfifo fifo.so || fail "mkfifo"
  hostile fifo --sites -- "$PWD/fifo.so" ;;
hostile_race)
  # A child flips bytes in the record while the launcher reads it: every
  # run ends with the program's status and a valid report.
  for i in 1 2 3 4 5; do
    hostile race --sites
  done ;;
escape)
  # ESC and BEL in a command line reach the report escaped, never raw.
  "$ZMEM" run --output report.txt -- sh -c 'exit 0' $'title\e]0;pwned\a' 2>err.txt ||
    fail "status $?"
  grep -q 'title\\x1b\]0;pwned\\x07' report.txt || fail "not escaped: $(head -2 report.txt)"
  ! grep -q $'[\e\a]' report.txt || fail "raw ESC or BEL in the report"
  # The sweep's table too (its header names the command).
  "$ZMEM" sweep --to 1 -- sh -c 'exit 0' $'title\e]0;pwned\a' >sweep.txt 2>&1 ||
    fail "sweep: status $?"
  grep -q 'title\\x1b\]0;pwned\\x07' sweep.txt || fail "sweep: not escaped: $(head -2 sweep.txt)"
  ! grep -q $'[\e\a]' sweep.txt || fail "raw ESC or BEL in the sweep's table" ;;
held_libc)
  held libc.so.6
  # zmem's start-up leaves glibc's mmap threshold as it was.
  same -- "$H/zmem_run_held" libc.so.6 m ;;
held_jemalloc)
  # jemalloc below zmem: its usable sizes, not glibc's chunk headers.
  [ -e /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 ] || skip "no libjemalloc.so.2"
  held libjemalloc.so.2 LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 ;;
held_malloc_debug)
  # glibc's malloc checking, whose blocks' usable size is the requested one.
  dbg=$(ls /usr/lib/*/libc_malloc_debug.so.0 /lib/*/libc_malloc_debug.so.0 2>/dev/null | head -1)
  [ -n "$dbg" ] || skip "no libc_malloc_debug.so.0"
  held libc_malloc_debug.so.0 LD_PRELOAD="$dbg" MALLOC_CHECK_=3 ;;
quiet_gate)
  # With --quiet, a tripped gate's last line names what was written, never
  # a report that was left out.
  "$ZMEM" run --quiet --max-peak 1 -- "$H/zmem_run_quick_exit" >/dev/null 2>err.txt
  [ $? = 99 ] || fail "--max-peak 1 did not exit 99 ($(cat err.txt))"
  ! grep -q "in the report\|the report's" err.txt ||
    fail "--quiet: points at the report it left out: $(cat err.txt)"
  grep -q -- "--output FILE" err.txt || fail "--quiet: no way to keep the report: $(cat err.txt)"
  "$ZMEM" run --quiet --json q.json --max-peak 1 -- "$H/zmem_run_quick_exit" >/dev/null 2>err.txt
  grep -q "where the bytes go: q.json" err.txt || fail "--quiet --json: $(cat err.txt)"
  "$ZMEM" run --quiet --output q.txt --max-peak 1 -- "$H/zmem_run_quick_exit" >/dev/null 2>err.txt
  grep -q "in q.txt" err.txt && [ -s q.txt ] || fail "--quiet --output: $(cat err.txt)"
  "$ZMEM" run --max-peak 1 -- "$H/zmem_run_quick_exit" >/dev/null 2>err.txt
  grep -q "in the report" err.txt || fail "no --quiet: $(tail -2 err.txt)" ;;
depth_alone)
  # --depth, like the other site options, turns sites on by itself.
  "$ZMEM" run --depth 4 --output d.txt -- "$H/zmem_run_quick_exit" >/dev/null 2>err.txt
  grep -q "top sites at the peak" d.txt || fail "--depth without --sites: no sites: $(head -3 err.txt)" ;;
quoted_args)
  # Empty arguments, and those the shell would split, are shown quoted, so
  # the header reads as the command line that was run.
  "$ZMEM" run --output q.txt -- sh -c 'exit 0' '' "it's" >/dev/null 2>err.txt ||
    fail "status $? ($(head -2 err.txt))"
  [ "$(head -1 q.txt)" = "zmem run: sh -c 'exit 0' '' 'it'\''s'" ] ||
    fail "header: $(head -1 q.txt)"
  "$ZMEM" sweep --to 1 -- sh -c 'exit 0' '' >sweep.txt 2>&1 || fail "sweep: status $?"
  grep -qxF "zmem sweep: sh -c 'exit 0' ''" sweep.txt || fail "sweep: $(head -2 sweep.txt)" ;;
held_below)
  # An allocator whose size query answers less than the request (0, as
  # tcmalloc's does for a block it did not allocate): the request is held,
  # and every block freed leaves the live figures.
  for n in 0 8; do
    LD_PRELOAD="$H/libzmem_run_zero_size.so" "$ZMEM" run --quiet --json "r$n.json" -- \
      "$H/zmem_run_edges" live $n >"out$n.txt" 2>"err$n.txt" ||
      fail "status $? ($(head -3 "err$n.txt"))"
  done
  python3 - <<'PY' || fail "the live figures do not hold the requests"
import json
want = sum(map(int, open("out8.txt").read().split()[1:]))
p0, p1 = (json.load(open(f"r{n}.json"))["processes"][0] for n in (0, 8))
req = p1["live_requested_bytes"] - p0["live_requested_bytes"]
held = p1["live_held_bytes"] - p0["live_held_bytes"]
assert (req, held) == (want, want), ((req, held), want)
for p in (p0, p1):
    assert p["live_held_bytes"] >= p["live_requested_bytes"], p
    assert p["peak_held_bytes"] >= p["peak_requested_bytes"], p
PY
  ;;
aligned_alloc)
  # The C library's own answers, whatever the alignment.
  same -- "$H/zmem_run_edges" align
  grep -q "aligned_alloc(24, 48): block" plain.out || skip "this C library refuses aligned_alloc(24, 48)"
  jq_py 'f = d["processes"][0]["functions"]["aligned_alloc"]
assert f["calls"] == 4 and f["failures"] == sum(1 for l in open("plain.out") if "NULL" in l), f' ;;
failures)
  # Failed requests are counted as failures, their sizes in no byte figure.
  same -- "$H/zmem_run_edges" fail
  jq_py 'p = d["processes"][0]; f = p["functions"]
want = {"malloc": 1, "calloc": 1, "reallocarray": 2, "realloc": 1, "memalign": 1}
got = {k: f[k]["failures"] for k in want}
assert got == want, got
assert all(v["bytes"] < 1 << 20 for v in f.values()), f
assert p["total_requested_bytes"] < 1 << 20, p["total_requested_bytes"]
assert d["summary"]["total_requested_bytes"] < 1 << 20, d["summary"]' ;;
*) fail "unknown test" ;;
esac
echo "PASS: $TEST"
