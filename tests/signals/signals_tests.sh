#!/usr/bin/env bash
# Signals sent to `zmem run` and to its program, and zmem's own descriptors.
#   signals_tests.sh ZMEM HELPERS_DIR TEST
. "$(dirname "$0")/../script_test.sh" signals "$@"
check() { python3 "$HERE/../run/check.py" "$@" || fail "report check failed: $*"; }

# dfl CMD...: becomes CMD (so call it as `dfl ... &` or `(dfl ...)`) with
# SIGTERM, SIGINT, SIGHUP and SIGQUIT at their defaults (a background job of
# a script inherits SIGINT and SIGQUIT ignored) and no descriptor above 2.
dfl() {
  exec python3 -c 'import os, signal, sys
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
    signal.signal(s, signal.SIG_DFL)
os.closerange(3, 65536)
os.execvp(sys.argv[1], sys.argv[1:])' "$@"
}

# wait_file FILE ZPID: until FILE is there (10 s at most, and only while
# zmem, ZPID, runs).
wait_file() {
  for _ in $(seq 400); do
    [ -s "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.025
  done
  [ -s "$1" ] || fail "$1 did not appear"
}

# gone PID: until PID no longer runs (a zombie counts as gone); 5 s at most.
gone() {
  for _ in $(seq 200); do
    [ -r "/proc/$1/stat" ] || return 0
    [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" = Z ] && return 0
    sleep 0.025
  done
  return 1
}

no_tmp() {
  ! ls -a | grep -q '^\.zmem-' || fail "a temporary file was left: $(ls -a | grep '^\.zmem-')"
}

case $TEST in
forward)
  # Each of the four, sent to zmem, reaches the program exactly once; the
  # program's own status is zmem's, and the report names the signal.
  for sig in TERM INT HUP QUIT; do
    rm -f pid log r.json
    dfl "$ZMEM" run --json r.json --output report.txt -- "$H/zmem_signals_sigprog" pid log once &
    zpid=$!
    wait_file pid $zpid
    kill -$sig $zpid
    wait $zpid
    rc=$?
    [ $rc = 3 ] || fail "SIG$sig: status $rc, wanted the program's 3"
    n=$(kill -l $sig)
    [ "$(od -An -tu1 log | tr -d ' \n')" = "$n" ] ||
      fail "SIG$sig: the program got $(od -An -tu1 log) (signal numbers), wanted $n once"
    check r.json procs=1 exit=3
    grep -q "zmem received SIG$sig; forwarded to the program" report.txt ||
      fail "SIG$sig: the report does not say so: $(head -4 report.txt)"
    python3 -c 'import json, sys; z = json.load(open("r.json"))["zmem_signal"]
assert z == {"signal": int(sys.argv[1]), "name": "SIG" + sys.argv[2], "forwarded": True,
             "kill": None}, z' "$n" $sig || fail "SIG$sig: zmem_signal in the JSON"
  done
  # A program with the default action dies of it: 128 + N everywhere.
  rm -f pid
  dfl "$ZMEM" run --json r.json --output report.txt -- "$H/zmem_signals_churnfork" pid 2 &
  zpid=$!
  wait_file pid $zpid
  kill -TERM $zpid
  wait $zpid
  rc=$?
  [ $rc = 143 ] || fail "churnfork: status $rc, wanted 143"
  check r.json exit=143 status=signal
  no_tmp
  # A signal zmem inherited ignored (nohup, a script's background job) is
  # ignored by the program too: zmem does not forward it.
  rm -f pid log
  (trap '' HUP; exec "$ZMEM" run --json r.json -- "$H/zmem_signals_sigprog" pid log once) &
  zpid=$!
  wait_file pid $zpid
  kill -HUP $zpid
  kill -TERM $zpid
  wait $zpid
  [ "$(od -An -tu1 log | tr -d ' \n')" = 15 ] ||
    fail "an ignored SIGHUP was forwarded: the program got $(od -An -tu1 log)" ;;
second)
  # A second signal kills the whole tree with SIGKILL, a descendant in a
  # session of its own included.
  dfl "$ZMEM" run --json r.json --output report.txt -- "$H/zmem_signals_sigprog" pid log ignore &
  zpid=$!
  wait_file pid $zpid
  prog=$(sed -n 1p pid) far=$(sed -n 2p pid)
  kill -TERM $zpid
  wait_file log $zpid
  kill -INT $zpid
  wait $zpid
  rc=$?
  [ $rc = 137 ] || fail "status $rc, wanted 137 (the program was killed)"
  check r.json exit=137 status=signal
  grep -q "zmem received SIGTERM; forwarded" report.txt || fail "no forward line"
  grep -q "then SIGINT: zmem killed the program's 2 processes with SIGKILL" report.txt ||
    fail "no kill line: $(head -5 report.txt)"
  gone "$prog" || fail "the program ($prog) still runs"
  gone "$far" || { kill -KILL "$far"; fail "its descendant in another session still runs"; }
  no_tmp ;;
timeout_group)
  # GNU timeout's way: the signal to zmem, then to the whole process group
  # (zmem and the program in it). zmem gets it twice from one sender: the
  # same request, not a second signal, so no SIGKILL of the tree.
  python3 - "$ZMEM" "$H/zmem_signals_sigprog" <<'PY' || fail "see above"
import os, signal, subprocess, sys, time
os.setpgid(0, 0)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
z = subprocess.Popen([sys.argv[1], "run", "--json", "r.json", "--output", "report.txt",
                      "--", sys.argv[2], "pid", "log", "once"],
                     preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL))
for _ in range(400):
    if os.path.exists("pid") and os.path.getsize("pid") > 0:
        break
    time.sleep(0.025)
os.kill(z.pid, signal.SIGTERM)
os.killpg(0, signal.SIGTERM)
rc = z.wait(timeout=30)
report = open("report.txt").read()
assert rc == 3, "status %d, wanted the program's 3: %s" % (rc, report[:300])
assert "killed" not in report, report[:400]
PY
  ;;
grace)
  # No second signal: the grace period (10 s) ends it.
  dfl "$ZMEM" run --json r.json --output report.txt -- "$H/zmem_signals_sigprog" pid log ignore &
  zpid=$!
  wait_file pid $zpid
  far=$(sed -n 2p pid)
  start=$(date +%s)
  kill -TERM $zpid
  wait $zpid
  rc=$?
  took=$(($(date +%s) - start))
  [ $rc = 137 ] || fail "status $rc, wanted 137"
  [ $took -ge 9 ] && [ $took -le 30 ] || fail "took $took s, wanted about 10"
  grep -q "the program still ran 10 s later: zmem killed its 2 processes" report.txt ||
    fail "no kill line: $(head -5 report.txt)"
  gone "$far" || { kill -KILL "$far"; fail "its descendant in another session still runs"; } ;;
terminal)
  # ^C on a terminal goes to the whole foreground group: the program gets
  # it once, from the terminal, and zmem neither sends it again nor dies.
  python3 "$HERE/terminal.py" "$ZMEM" "$H/zmem_signals_sigprog" || fail "terminal ^C" ;;
kill_zmem)
  # SIGKILL of zmem: the program dies with it, and nothing is left in the
  # output's directory.
  mkdir out
  dfl "$ZMEM" run --json out/r.json --output out/report.txt --plot out/p.svg -- \
    "$H/zmem_signals_churnfork" pid 2 &
  zpid=$!
  wait_file pid $zpid
  prog=$(cat pid)
  kill -KILL $zpid
  wait $zpid
  gone "$prog" || { kill -KILL "$prog"; fail "the program outlived zmem"; }
  [ -z "$(ls -A out)" ] || fail "left in the output's directory: $(ls -A out)" ;;
fds)
  # zmem's descriptors are not the program's: it cannot write into the
  # reports, and it sees no descriptor of zmem's but the record.
  (dfl "$H/zmem_signals_fdwriter") >plain.out 2>/dev/null
  (dfl "$ZMEM" run --json r.json --output report.txt --plot p.svg --trace t.json \
    --collapsed c.txt -- "$H/zmem_signals_fdwriter") >zmem.out 2>zmem.err
  rc=$?
  [ $rc = 0 ] || fail "status $rc: $(head -3 zmem.err)"
  cmp -s plain.out zmem.out || fail "the program saw other descriptors: $(cat zmem.out)"
  [ "$(cat zmem.out)" = "open:" ] || fail "descriptors open in the program: $(cat zmem.out)"
  check r.json procs=1 exit=0
  ! grep -l zmem-fd-leak r.json report.txt p.svg t.json c.txt || fail "the program wrote into a report"
  python3 -c 'import json; json.load(open("t.json"))' || fail "trace is not JSON"
  head -1 report.txt | grep -q "^zmem run: .*fdwriter$" || fail "report: $(head -2 report.txt)"
  no_tmp ;;
stress)
  python3 "$HERE/stress.py" "$ZMEM" "$H/zmem_signals_churnfork" 50 || fail "see above" ;;
*) fail "unknown test" ;;
esac
echo "PASS: $TEST"
