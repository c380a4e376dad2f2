#!/usr/bin/env bash
# Tests of `zmem run --live` in a real terminal: a private tmux server
# with a fixed-size pane runs zmem; the checks read the pane
# (capture-pane), type into it (send-keys) and find the program by the pid
# it writes.
#   live_tests.sh ZMEM HELPERS_DIR TEST
. "$(dirname "$0")/../script_test.sh" run_live "$@"
command -v tmux >/dev/null || skip "no tmux (scripts/deps.sh test installs it)"

T() { tmux -S "$W/tmux.sock" "$@"; }
trap 'T kill-server 2>/dev/null; rm -rf "$W"' EXIT

# within SECONDS CMD...: CMD every 0.1 s until it succeeds; 1 after SECONDS.
within() {
  local end=$((SECONDS + $1))
  shift
  until "$@"; do
    [ $SECONDS -lt $end ] || return 1
    sleep 0.1
  done
}
pane() { T capture-pane -p -t live; }
view_shown() { pane | grep -q "zmem run --live"; }
view_gone() { ! view_shown; }
# The view's row of the program: its pid, then the 12 MiB it holds.
program_row() { pane | grep -Eq "^ *$(cat pid) +zmem_run_live_hol.* 12\.0 MiB"; }
sites_shown() { pane | grep -q "top sites now" && pane | grep -q "12.0 MiB  main live_hold.c"; }
ended() { [ -s rc ]; }

# start ZMEM-OPTIONS...: zmem --live on zmem_run_live_hold in a 100x30
# pane, its stdout and stderr to files, its status to rc.
start() {
  T -f /dev/null new-session -d -x 100 -y 30 -s live -c "$W" \
    "'$ZMEM' run --live --output report.txt $* -- '$H/zmem_run_live_hold' pid go \
     >out.txt 2>err.txt; echo \$? >rc; sleep 600"
  within 60 test -s pid || fail "the program did not start: $(cat err.txt)"
  within 60 program_row || fail "no row for pid $(cat pid) with 12.0 MiB in the view:
$(pane)"
}

# The terminal of the pane is as a shell leaves it: canonical, echoing.
tty_restored() {
  local mode
  mode=$(stty -F "$(T display -p -t live '#{pane_tty}')" -a) || fail "stty failed"
  ! grep -Eq -- '-icanon|-echo ' <<<"$mode" || fail "terminal left in raw mode: $mode"
}

# finished STATUS: zmem ended with STATUS, the report came out, the view is gone.
finished() {
  within 60 ended || fail "zmem did not end: $(pane)"
  [ "$(cat rc)" = "$1" ] || fail "status $(cat rc), wanted $1 ($(head -3 err.txt))"
  grep -q "heap peak" report.txt || fail "no report: $(head -3 err.txt)"
  view_gone || fail "the view is still shown after the end: $(pane)"
  tty_restored
}

case $TEST in
view)
  # q leaves the view; the program runs on and reads its stdin (the same
  # terminal) as without zmem; its status is zmem's.
  start
  grep -Eq "total +1 running " <(pane) || fail "no total row: $(pane)"
  T send-keys -t live q
  within 30 view_gone || fail "q did not leave the view: $(pane)"
  kill -0 "$(cat pid)" || fail "the program ended with the view"
  tty_restored
  touch go
  T send-keys -t live hello Enter
  finished 7
  grep -qx "got: hello" out.txt || fail "the program did not read its input: $(cat out.txt)"
  [ ! -s err.txt ] || fail "zmem wrote to stderr: $(head -3 err.txt)" ;;
sites)
  # With --sites, the top site now; the view ends with the program.
  # When the program reads the terminal, the view hands it over by itself.
  start --sites
  within 60 sites_shown || fail "no top site in the view: $(pane)"
  touch go
  within 30 view_gone || fail "the view stayed while the program reads: $(pane)"
  tty_restored
  T send-keys -t live hello Enter
  finished 7
  grep -qx "got: hello" out.txt || fail "the program did not read its input: $(cat out.txt)" ;;
signal)
  # A signal to zmem goes to the program; the terminal comes back.
  start
  zmem_pid=$(awk '{print $4}' "/proc/$(cat pid)/stat")
  kill -TERM "$zmem_pid"
  finished 143 ;;
no_tty)
  # Without a terminal, one line says so and the run goes on.
  setsid -w "$ZMEM" run --live --output report.txt -- sh -c 'exit 5' </dev/null \
    >out.txt 2>err.txt
  rc=$?
  [ $rc = 5 ] || fail "status $rc, wanted 5 ($(head -3 err.txt))"
  [ "$(wc -l <err.txt)" = 1 ] && grep -q -- "--live: no terminal" err.txt ||
    fail "wanted one line about the terminal: $(cat err.txt)"
  grep -q "heap peak" report.txt || fail "no report" ;;
*) fail "unknown test" ;;
esac
echo "PASS: $TEST"
