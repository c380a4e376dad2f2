#!/usr/bin/env bash
# Tests of each process's own RSS peak, heap against RSS, and the OOM
# killer named:  rss_tests.sh ZMEM HELPERS_DIR TEST
. "$(dirname "$0")/../script_test.sh" rss "$@"
P=$H/zmem_rss_prog

# jq_py CODE: python with d = the JSON report r.json, procs = its processes.
jq_py() {
  python3 -c "import json; d = json.load(open('r.json')); procs = d['processes']
MiB = 1 << 20
$1" || fail "report check: $1"
}

case $TEST in
own_peak)
  # A parent whose child allocates and touches 200 MiB: only the child's
  # row shows it (waitpid's figure for the parent counts its children).
  "$ZMEM" run --json r.json --output report.txt -- "$P" parent 200 >/dev/null 2>err.txt ||
    fail "status $? ($(head -3 err.txt))"
  jq_py "
first = [p for p in procs if p['origin'] == 'first'][0]
child = [p for p in procs if 'child' in p['command']][0]
assert child['rss_peak_bytes'] >= 200 * MiB, child['rss_peak_bytes']
assert first['rss_peak_bytes'] < 64 * MiB, first['rss_peak_bytes']
assert not first['rss_peak_includes_children']"
  ;;
own_peak_killed)
  # The same parent ends by SIGKILL, so it never reads its own peak: the
  # row shows the launcher's readings, or waitpid's figure marked as such.
  "$ZMEM" run --json r.json --output report.txt -- "$P" parent-kill 200 >/dev/null 2>err.txt
  [ $? = 137 ] || fail "status $?, wanted 137 ($(head -3 err.txt))"
  jq_py "
first = [p for p in procs if p['origin'] == 'first'][0]
assert first['rss_peak_bytes'] < 64 * MiB or first['rss_peak_includes_children'], first"
  if grep -q "RSS peak from waitpid" report.txt; then
    jq_py "assert [p for p in procs if p['origin'] == 'first'][0]['rss_peak_includes_children']"
  fi
  ;;
heap_vs_rss)
  # 64 MiB mapped and touched outside malloc, a 4 MiB block glibc maps on
  # its own, 32 MiB in 64 KiB blocks of which every other one is freed:
  # 20 MiB held, 16 MiB retained by glibc.
  "$ZMEM" run --json r.json --output report.txt -- "$P" mix >/dev/null 2>err.txt ||
    fail "status $? ($(head -3 err.txt))"
  grep -q "heap against RSS" report.txt || fail "no heap against RSS section"
  jq_py "
h = procs[0]['heap_vs_rss']['at_end']
assert h['source'] == 'process', h
parts = ['held_bytes', 'retained_bytes', 'anon_outside_malloc_bytes', 'stacks_bytes',
         'file_bytes', 'unexplained_bytes']
assert sum(h[k] for k in parts) == h['rss_bytes'], h
assert abs(h['requested_bytes'] - 20 * MiB) < MiB, h
assert abs(h['held_bytes'] - 20 * MiB) < MiB, h
assert abs(h['retained_bytes'] - 16 * MiB) < MiB, h
assert 64 * MiB <= h['anon_outside_malloc_bytes'] < 72 * MiB, h
assert abs(h['unexplained_bytes']) < 4 * MiB, h
assert procs[0]['heap_vs_rss']['at_rss_peak']['rss_bytes'] >= h['rss_bytes'] - MiB"
  ;;
oom_cgroup)
  # A program over its memory cgroup's limit (96 MiB): the report names
  # the OOM killer and the limit. Needs root and a writable memory
  # controller (v2, else v1); the cgroup is removed at exit.
  memory_cgroup $((96 << 20)) || skip "$CG_WHY"
  in_cgroup "$ZMEM" run --json r.json --output report.txt -- "$P" hog 400 >/dev/null 2>err.txt
  rc=$?
  [ $rc = 137 ] || fail "status $rc, wanted 137 from the OOM killer ($(head -3 err.txt))"
  grep -q "killed by the kernel's OOM killer (memory cgroup limit 96.0 MiB)" report.txt ||
    fail "OOM killer not named: $(head -5 report.txt)"
  grep -q "heap against RSS" report.txt || fail "no heap against RSS for the killed process"
  jq_py "
assert d['oom_killer'] == 'memory cgroup limit 96.0 MiB', d['oom_killer']
assert procs[0]['oom_killed'] and procs[0]['heap_vs_rss']['at_end'] is not None"
  ;;
*) fail "unknown test" ;;
esac
