#!/usr/bin/env bash
# Hostile programs under `zmem run`: each must behave as it does without
# zmem (same stdout, stderr where the C library writes it, exit status),
# and the launcher must exit with the program's status and write a report.
#   hostile_tests.sh ZMEM HELPERS_DIR TEST
. "$(dirname "$0")/../script_test.sh" hostile "$@"

# same [zmem-options] -- program args: the program's status, stdout and
# stderr as without zmem; a report.
same() {
  local opts=()
  while [ "$1" != "--" ]; do opts+=("$1"); shift; done
  shift
  timeout 60 "$@" >plain.out 2>plain.err
  local rc1=$?
  timeout 60 "$ZMEM" run --json r.json --output report.txt "${opts[@]}" -- "$@" \
    >zmem.out 2>zmem.err
  local rc2=$?
  [ $rc1 != 124 ] || fail "the plain run timed out"
  [ $rc2 != 124 ] || fail "the run under zmem timed out (a hang)"
  [ $rc1 = $rc2 ] || fail "exit status $rc1 plain, $rc2 under zmem ($(head -3 zmem.err))"
  cmp -s plain.out zmem.out || fail "stdout differs under zmem: $(diff plain.out zmem.out | head -5)"
  cmp -s plain.err zmem.err || fail "stderr differs under zmem: $(diff plain.err zmem.err | head -5)"
  [ -s report.txt ] || fail "no report"
  [ -s r.json ] || fail "no JSON report"
  RC=$rc1
}

# aborts: the C library's own abort (SIGABRT, 134) and message.
aborts() {
  [ "$RC" = 134 ] || fail "status $RC, wanted 134 (the C library's abort)"
  grep -q "$1" zmem.err || fail "no '$1' from the C library: $(head -3 zmem.err)"
}

# summary PYTHON-EXPRESSION: holds for the JSON report's summary, d.
summary() {
  python3 -c 'import json, sys; d = json.load(open("r.json"))["summary"]
sys.exit(0 if eval(sys.argv[1]) else 1)' "$1" || fail "report: $1 is false: $(head -c 600 r.json)"
}

case $TEST in
double_free_small)
  same -- "$H/zmem_hostile_double_free" small
  aborts "double free" ;;
double_free_large)
  same -- "$H/zmem_hostile_double_free" large
  aborts "double free or corruption"
  # The same through zmem's core (fault injection, no request failed).
  same --fail 1000000 -- "$H/zmem_hostile_double_free" large
  aborts "double free or corruption" ;;
double_free_fastbin)
  # Undetected by the C library: the program goes on, and the report
  # stays consistent (the second free is one zmem never saw allocated).
  same -- "$H/zmem_hostile_double_free" fastbin
  [ "$RC" = 0 ] || fail "status $RC"
  summary 'd["unseen_frees"] == 1 and d["processes_untrusted"] == 0 and d["leaked_blocks"] == 0'
  grep -q "1 free of blocks zmem never saw" report.txt || fail "report: $(head -5 report.txt)" ;;
double_free_realloc)
  same -- "$H/zmem_hostile_double_free" realloc
  [ "$RC" = 134 ] || fail "status $RC, wanted 134" ;;
foreign_stack)
  same -- "$H/zmem_hostile_foreign_free" stack
  aborts "free(): invalid" ;;
foreign_raw)
  same -- "$H/zmem_hostile_foreign_free" raw
  [ "$RC" = 0 ] || fail "status $RC"
  summary 'd["unseen_frees"] >= 1 and d["processes_untrusted"] == 0' ;;
handler_alloc)
  for i in 1 2 3; do
    same -- "$H/zmem_hostile_handler_alloc"
    [ "$RC" = 0 ] || fail "status $RC"
    summary 'd["processes_untrusted"] == 0' 
  done ;;
altstack_fp)
  same --sites --unwind fp -- "$H/zmem_hostile_odd_stack" altstack
  [ "$RC" = 0 ] || fail "status $RC" ;;
coroutine_fp)
  same --sites --unwind fp -- "$H/zmem_hostile_odd_stack" coroutine
  [ "$RC" = 0 ] || fail "status $RC" ;;
altstack_modes)
  for mode in auto dwarf; do
    for where in altstack coroutine; do
      same --sites --unwind $mode -- "$H/zmem_hostile_odd_stack" $where
      [ "$RC" = 0 ] || fail "$mode $where: status $RC"
    done
  done ;;
clone)
  same -- "$H/zmem_hostile_clone_child"
  [ "$RC" = 0 ] || fail "status $RC"
  summary 'd["processes_sharing_record"] == 1'
  grep -q "1 process shared its parent's record" report.txt || fail "report: $(head -6 report.txt)"
  # The child counted itself in its parent's record as it exited.
  "$ZMEM" run --quiet -- "$H/zmem_hostile_clone_child" check >out.txt 2>err.txt ||
    fail "status $? ($(head -3 err.txt))"
  grep -qx "shared by 1" out.txt || fail "the record says: $(cat out.txt)" ;;
fork_threads)
  # Bounded by same's timeout: a child that blocks is a timeout, not a hang.
  for unwind in auto fp dwarf; do
    same --sites --unwind $unwind -- "$H/zmem_hostile_fork_threads" \
      "$H/libzmem_hostile_plugin_a.so" "$H/libzmem_hostile_plugin_b.so"
    [ "$RC" = 0 ] || fail "--unwind $unwind: status $RC"
  done ;;
fd_reused)
  # A descendant inherits the record's variables but finds another file
  # on the record's descriptor number.
  : >empty
  same -- bash -c 'n=${ZMEM_RUN_FD:-3}; eval "exec $n<empty"; ls empty; echo "$(cat empty)x"'
  [ "$RC" = 0 ] || fail "status $RC"
  # It reopened the record through the launcher: still profiled.
  grep -q "exit 0  ls empty" report.txt || fail "ls not profiled: $(tail -5 report.txt)"
  summary 'd["processes_reattached"] >= 1' ;;
fd_closed)
  : >empty
  same -- bash -c 'n=${ZMEM_RUN_FD:-3}; eval "exec $n<&-"; ls empty 2>&1; true'
  [ "$RC" = 0 ] || fail "status $RC"
  grep -q "exit 0  ls empty" report.txt || fail "ls not profiled: $(tail -5 report.txt)" ;;
*) fail "unknown test" ;;
esac
exit 0
