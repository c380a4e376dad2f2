#!/usr/bin/env bash
# Tests of `zmem report` (a saved --json report rendered again) and `zmem
# diff` (two compared) on zmem_diff_prog, whose sites are known.
#   diff_tests.sh ZMEM HELPERS_DIR TEST
. "$(dirname "$0")/../script_test.sh" diff "$@"
P=$H/zmem_diff_prog

# saved NAME [zmem-run-options] -- args: NAME.json and the live NAME.txt.
saved() {
  local name=$1 opts=()
  shift
  while [ "$1" != "--" ]; do opts+=("$1"); shift; done
  shift
  "$ZMEM" run --json "$name.json" --output "$name.txt" "${opts[@]}" -- "$P" "$@" \
    2>"$name.err" || fail "zmem run $*: status $? ($(head -3 "$name.err"))"
}

# refused WHAT FILE...: zmem report and zmem diff both refuse the file with
# status 2 and one line naming it, never a crash.
refused() {
  local what=$1 f rc
  shift
  for f in "$@"; do
    "$ZMEM" report "$f" >out.txt 2>err.txt
    rc=$?
    [ $rc = 2 ] || fail "$what: report $f: status $rc, wanted 2 ($(head -2 err.txt))"
    grep -q "^zmem: $f: " err.txt || fail "$what: report $f: message '$(head -2 err.txt)'"
    [ "$(wc -l <err.txt)" = 1 ] || fail "$what: report $f: more than one line: $(cat err.txt)"
    [ ! -s out.txt ] || fail "$what: report $f wrote a report"
    "$ZMEM" diff good.json "$f" >out.txt 2>err.txt
    rc=$?
    [ $rc = 2 ] || fail "$what: diff $f: status $rc, wanted 2 ($(head -2 err.txt))"
    grep -q "^zmem: $f: " err.txt || fail "$what: diff $f: message '$(head -2 err.txt)'"
  done
}

# again NAME: `zmem report NAME.json` prints NAME.txt, the live text report.
again() {
  "$ZMEM" report "$1.json" >"$1.again" 2>err.txt || fail "report $1: status $?"
  diff "$1.txt" "$1.again" >d.txt || fail "$1: the report differs: $(head -8 d.txt)"
  [ ! -s err.txt ] || fail "$1: stderr: $(head -2 err.txt)"
}

# live NAME WANT [zmem-run-options] -- program args: NAME.json and NAME.txt
# of a run whatever its status; WANT is a pattern the live text must have.
live() {
  local name=$1 want=$2 opts=()
  shift 2
  while [ "$1" != "--" ]; do opts+=("$1"); shift; done
  shift
  timeout 60 "$ZMEM" run --json "$name.json" --output "$name.txt" "${opts[@]}" -- "$@" \
    >/dev/null 2>"$name.err"
  grep -q -- "$want" "$name.txt" || fail "$name: no '$want' in: $(cat "$name.txt")"
}

case $TEST in
report_findings)
  # What the launcher saw beside the record reads back: heap against RSS,
  # RSS peaks that include children, processes it could not profile,
  # allocators that bypass it; and, where a memory cgroup can be made, the
  # OOM killer.
  R=$H/../rss/zmem_rss_prog U=$H/../run
  live mix "^heap against RSS: pid" -- "$R" mix
  live own_malloc "most allocations bypass zmem" -- "$U/zmem_run_own_malloc"
  live daemon "still running when the first process ended" -- sh -c "'$U/zmem_run_sleeper' \
    pid.txt & for i in \$(seq 400); do [ -s pid.txt ] && exit 0; sleep 0.05; done; exit 1"
  kill -KILL "$(cat pid.txt)"
  grep -q " running  /" daemon.txt || fail "daemon: status not 'running': $(cat daemon.txt)"
  for r in mix own_malloc daemon; do again $r; done
  if [ -x "$U/zmem_run_static" ]; then
    live static "^ *\^ exec'd .*not profiled" -- sh -c "exec '$U/zmem_run_static'"
    again static
  fi
  # waitpid's peak, which includes the children: marked on the row.
  python3 -c 'import json; d = json.load(open("mix.json"))
d["processes"][0]["rss_peak_includes_children"] = True
json.dump(d, open("wait.json", "w"))' || fail "making wait.json failed"
  "$ZMEM" report wait.json | grep -q "^ *\^ RSS peak from waitpid" || fail "waitpid's peak not marked"
  if memory_cgroup $((96 << 20)); then
    in_cgroup "$ZMEM" run --json oom.json --output oom.txt -- "$R" hog 400 >/dev/null 2>oom.err
    grep -q "killed by the kernel's OOM killer" oom.txt || fail "oom: not named: $(cat oom.txt)"
    grep -q "^heap against RSS" oom.txt || fail "oom: no heap against RSS: $(cat oom.txt)"
    again oom
  fi ;;
report_html)
  # --html from the saved report: one self-contained page, the live run's
  # own, RSS over time included (the shell lives 0.3 s, so the launcher
  # samples its RSS whatever the load).
  "$ZMEM" run --sites --json r.json --quiet --html live.html -- \
    sh -c "'$P' 5 new fork; sleep 0.3" || fail "zmem run: status $?"
  "$ZMEM" report r.json --quiet --html again.html || fail "zmem report --html: status $?"
  [ -s again.html ] || fail "no page"
  ! grep -Eq '(src|href)="(https?:)?//' again.html || fail "the page loads something"
  python3 - again.html <<'PY' || fail "no data blob with RSS samples in the page"
import json, re, sys
page = open(sys.argv[1]).read()
blob = re.search(r'<script type="application/json"[^>]*>(.*?)</script>', page, re.S)
d = json.loads(blob.group(1))
assert d["report"]["format"] == "zmem-run", d.keys()
assert any(len(p) and p[0][1] > 0 for p in d["rss"]), d["rss"]
PY
  cmp -s live.html again.html ||
    fail "the page differs from the live one: $(diff live.html again.html | head -c 600)" ;;
report_text)
  # The text report read back is the live one, line for line, with and
  # without sites, one process or several.
  saved one -- 0
  saved tree --sites -- 77 new fork
  for r in one tree; do
    "$ZMEM" report "$r.json" >again.txt 2>err.txt || fail "report $r: status $?"
    diff "$r.txt" again.txt >d.txt || fail "$r: the report differs: $(head -8 d.txt)"
    [ ! -s err.txt ] || fail "$r: stderr: $(head -2 err.txt)"
  done
  grep -q "allocation sites of pid" tree.txt || fail "no per-process sites in the live report"
  "$ZMEM" report --output out.txt tree.json && cmp -s out.txt tree.txt ||
    fail "--output differs from the live report"
  [ -z "$("$ZMEM" report --quiet tree.json)" ] || fail "--quiet printed" ;;
report_outputs)
  # Each output from the saved report is the live run's own.
  "$ZMEM" run --sites --json r.json --quiet --collapsed live.folded --flame live.svg \
    --pprof live.pb.gz --plot live-plot.svg --trace live-trace.json -- "$P" 5 new fork ||
    fail "zmem run: status $?"
  "$ZMEM" report r.json --quiet --collapsed again.folded --flame again.svg \
    --pprof again.pb.gz --plot again-plot.svg --trace again-trace.json ||
    fail "zmem report: status $?"
  for f in .folded .svg .pb.gz -plot.svg -trace.json; do
    a=live$f b=again$f
    [ -s "$b" ] || fail "no $b"
    cmp -s "$a" "$b" || fail "$b differs from $a: $(diff "$a" "$b" | head -4)"
  done
  grep -q ';main;steady_site 40960$' again.folded || fail "no steady_site in the folded stacks"
  # pprof reads the profile.
  if command -v go >/dev/null; then
    go tool pprof -top again.pb.gz >top.txt 2>&1 || fail "go tool pprof: $(head -3 top.txt)"
  fi ;;
report_no_sites)
  # Sites outputs need a report saved with --sites: status 2, the remedy.
  saved plain -- 0
  "$ZMEM" report plain.json --flame f.svg >/dev/null 2>err.txt
  [ $? = 2 ] || fail "status $?, wanted 2"
  grep -q "has no allocation sites.*--sites" err.txt || fail "message: $(cat err.txt)"
  [ ! -e f.svg ] || fail "a flame graph was written"
  "$ZMEM" report plain.json --plot p.svg >/dev/null || fail "--plot without sites: $?"
  grep -q '<svg' p.svg || fail "no plot" ;;
report_bad | diff_bad)
  # Malformed, truncated, hostile and foreign files: status 2 and one line.
  saved good --sites -- 0
  python3 - good.json <<'PY' || fail "making the bad files failed"
import json, sys
good = open(sys.argv[1]).read()
j = json.loads(good)
bad = {
  "empty": "", "space": "  \n", "truncated": good[: len(good) // 2],
  "trailing_comma": '{"a": 1,}', "two_values": good + "{}", "leading_zero": '{"a": 01}',
  "deep": "[" * 100000 + "]" * 100000, "bad_escape": '{"a": "\\q"}',
  "nul_escape": '{"format": "zmem\\u0000-run"}', "lone_surrogate": '["\\udc00"]',
  "control": '{"a": "x\x01y"}', "not_object": "[1, 2]", "nan": '{"a": NaN}',
  "huge_number": '{"a": ' + "9" * 500 + "}", "binary": "\x00\xff\xfe",
  "other_format": json.dumps({"format": "zmem-sweep", "schema": 1}),
}
def variant(name, change):
  k = json.loads(good)
  change(k)
  bad[name] = json.dumps(k)
variant("schema2", lambda k: k.update(schema=2))
variant("no_summary", lambda k: k.pop("summary"))
variant("no_processes", lambda k: k.pop("processes"))
variant("pid_string", lambda k: k["processes"][0].update(pid="1"))
variant("negative_total", lambda k: k["processes"][0].update(total_requested_bytes=-1))
variant("too_big", lambda k: k["processes"][0].update(total_requested_bytes=2**64))
variant("parent_out", lambda k: k["processes"][0].update(parent_index=7))
variant("histogram_min", lambda k: k["processes"][0]["histogram"].append({"min": 3, "max": 5, "count": 1}))
variant("sample_short", lambda k: k["processes"][0]["timeline"].append([1.0, 2]))
variant("stack_loc_out", lambda k: k["processes"][0]["sites"]["stacks"][0][1].__setitem__(0, 10**6))
variant("stack_depth", lambda k: k["processes"][0]["sites"]["stacks"][0].__setitem__(0, 99))
variant("loc_twice", lambda k: k["processes"][0]["sites"]["locations"].append(k["processes"][0]["sites"]["locations"][0]))
variant("sites_string", lambda k: k["processes"][0].update(sites="x"))
variant("status_kind", lambda k: k["processes"][0]["status"].update(kind="zombie"))
variant("left_words", lambda k: k["processes"][0].update(not_profiled="gone fishing"))
variant("bypass_words", lambda k: k["processes"][0].update(bypass=["x"]))
variant("hr_part", lambda k: k["processes"][0]["heap_vs_rss"].update(at_end={"t_s": 1}))
variant("oom_number", lambda k: k.update(oom_killer=3))
variant("sample_rss", lambda k: k["processes"][0]["timeline"].append([1.0, 2, 3, -4]))
for name, text in bad.items():
  open(name + ".json", "w", encoding="latin-1").write(text)
PY
  refused malformed empty.json space.json truncated.json trailing_comma.json \
    two_values.json leading_zero.json deep.json bad_escape.json nul_escape.json \
    lone_surrogate.json control.json not_object.json nan.json huge_number.json \
    binary.json other_format.json schema2.json no_summary.json no_processes.json \
    pid_string.json negative_total.json too_big.json parent_out.json histogram_min.json \
    sample_short.json stack_loc_out.json stack_depth.json loc_twice.json sites_string.json \
    status_kind.json left_words.json bypass_words.json hr_part.json oom_number.json \
    sample_rss.json missing.json
  grep -q "line 1, column 9: expected a member name in quotes" <("$ZMEM" report trailing_comma.json 2>&1) ||
    fail "no place in the syntax error: $("$ZMEM" report trailing_comma.json 2>&1)"
  "$ZMEM" report good.json >/dev/null || fail "the good report is refused: status $?" ;;
diff_known)
  # One site grows by exactly 77777 bytes: the diff names it first, with
  # that change in each figure, and every other site unchanged.
  saved old --sites -- 0
  saved new --sites -- 77777
  "$ZMEM" diff old.json new.json --json d.json >d.txt 2>err.txt || fail "status $?"
  python3 - d.json <<'PY' || fail "the diff's JSON is wrong"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["format"] == "zmem-diff" and d["schema"] == 1, d
for k in ("peak", "total", "leaked"):
  assert d["summary"][k]["delta"] == 77777, (k, d["summary"][k])
(p,) = d["processes"]
assert p["state"] == "both" and p["peak"]["delta"] == 77777, p
first, *rest = p["sites"]
assert first["frames"][:2] == ["grow_site", "main"], first["frames"]
assert first["state"] == "both", first
for k in ("peak", "total", "leaked"):
  assert (first[k]["old"], first[k]["new"], first[k]["delta"]) == (1000, 78777, 77777), (k, first)
for s in rest:
  assert all(s[k]["delta"] == 0 for k in ("peak", "total", "leaked")), s
  assert s["state"] == "both", s
assert any(s["frames"][0] == "steady_site" and s["peak"]["new"] == 40960 for s in rest), rest
PY
  grep -m1 '^    1\. ' d.txt | grep -q '^    1\. grow_site < main' ||
    fail "the text does not name grow_site first: $(head -20 d.txt)"
  grep -q "(1 site unchanged)" d.txt || fail "no unchanged site counted: $(cat d.txt)"
  # Matched by names, never by address: the same diff the other way round
  # shrinks the same site.
  "$ZMEM" diff new.json old.json --json r.json >/dev/null || fail "reversed: status $?"
  python3 -c '
import json, sys
s = json.load(open("r.json"))["processes"][0]["sites"]
assert s[-1]["frames"][0] == "grow_site" and s[-1]["peak"]["delta"] == -77777, s' ||
    fail "reversed diff wrong" ;;
diff_new_gone)
  # A site only in the new run, a process only in the new run, and back.
  saved old --sites -- 0
  saved new --sites -- 0 new fork
  "$ZMEM" diff old.json new.json --json d.json >d.txt || fail "status $?"
  python3 - d.json <<'PY' || fail "new/gone wrong"
import json, sys
d = json.load(open(sys.argv[1]))
states = [p["state"] for p in d["processes"]]
assert states.count("both") == 1 and states.count("new") == 1, states
main = next(p for p in d["processes"] if p["state"] == "both")
new = [s for s in main["sites"] if s["state"] == "new"]
assert new[0]["frames"][0] == "new_site" and new[0]["peak"]["delta"] == 3000, new
child = next(p for p in d["processes"] if p["state"] == "new")
assert any(s["frames"][0] == "child_site" and s["total"]["new"] == 10000 for s in child["sites"]), child
PY
  grep -q 'new_site < main.*\[new\]' d.txt || fail "new site not marked: $(cat d.txt)"
  grep -q '^pid [0-9]* \[new\]' d.txt || fail "new process not marked: $(cat d.txt)"
  "$ZMEM" diff new.json old.json >r.txt || fail "reversed: status $?"
  grep -q 'new_site < main.*\[gone\]' r.txt || fail "gone site not marked: $(cat r.txt)"
  grep -q '^pid [0-9]* \[gone' r.txt || fail "gone process not marked: $(cat r.txt)" ;;
diff_gate)
  # --max-increase as zmem run --baseline words it, status 99.
  saved old -- 0
  saved new -- 77777
  "$ZMEM" diff -q old.json new.json --max-increase 50 2>err.txt
  [ $? = 99 ] || fail "status $?, wanted 99"
  grep -q '^zmem: gate --max-increase: heap peak .* against .* in old.json: +[0-9.]*%, allowed +50%$' \
    err.txt || fail "wording: $(cat err.txt)"
  "$ZMEM" run --quiet --baseline old.json --max-increase 50 -- "$P" 77777 2>run.txt
  [ $? = 99 ] || fail "run --baseline: status $?"
  [ "$(head -1 err.txt | sed 's/+[0-9.]*%,/X/')" = "$(head -1 run.txt | sed 's/+[0-9.]*%,/X/')" ] ||
    fail "diff and run --baseline word it differently: $(head -1 err.txt) / $(head -1 run.txt)"
  "$ZMEM" diff -q old.json new.json --max-increase 1000000 || fail "under the limit: status $?"
  "$ZMEM" diff -q old.json new.json --max-increase leaked:50 2>err.txt
  [ $? = 99 ] || fail "leaked: status $?"
  grep -q 'gate --max-increase: live at exit' err.txt || fail "leaked wording: $(cat err.txt)"
  "$ZMEM" diff -q new.json old.json --max-increase total:0 || fail "shrinking tripped: $?"
  "$ZMEM" diff -q old.json new.json --max-increase rss:5 2>err.txt
  [ $? = 2 ] || fail "bad figure: status $?" ;;
diff_html)
  # --html: the text as one page, changes coloured, the --json comparison
  # inside as its data blob; nothing loaded from elsewhere.
  saved old --sites -- 0
  saved new --sites -- 77777 new fork
  "$ZMEM" diff -q old.json new.json --html d.html --json d.json || fail "status $?"
  "$ZMEM" diff -q new.json old.json --html r.html || fail "reversed: status $?"
  ! grep -Eq '(src|href)="' d.html || fail "the page loads something"
  python3 - <<'PY' || fail "the page is wrong"
import json, re
page, back = open("d.html").read(), open("r.html").read()
blob = re.search(r'<script type="application/json" id="zmem-diff">(.*?)</script>', page, re.S)
assert blob and json.loads(blob.group(1)) == json.load(open("d.json")), "blob is not the --json"
assert re.search(r'<span class="up">  heap peak .*\+', page), "growth not marked"
assert re.search(r'<span class="new">    1\. child_site &lt; main', page), "new site not marked"
assert re.search(r'<span class="down">  heap peak .* -[0-9]', back), "shrinkage not marked"
assert re.search(r'<span class="gone">pid [0-9]+ \[gone', back), "gone process not marked"
PY
  ;;
diff_pprof)
  # The change as one profile that go tool pprof reads: grow_site +77777.
  command -v go >/dev/null || skip "no go"
  saved old --sites -- 0
  saved new --sites -- 77777
  "$ZMEM" diff -q old.json new.json --pprof d.pb.gz || fail "status $?"
  # Two profiles from the reports themselves, for go tool pprof -diff_base.
  "$ZMEM" report -q old.json --pprof old.pb.gz && "$ZMEM" report -q new.json --pprof new.pb.gz ||
    fail "report --pprof: status $?"
  go tool pprof -top -sample_index=peak_inuse_space -diff_base old.pb.gz new.pb.gz \
    >top.txt 2>err.txt || fail "go tool pprof -diff_base: $(head -3 err.txt)"
  grep -q 'grow_site' top.txt || fail "-diff_base without grow_site: $(cat top.txt)"
  go tool pprof -top -sample_index=peak_inuse_space d.pb.gz >top2.txt 2>&1 ||
    fail "go tool pprof on the diff: $(head -3 top2.txt)"
  [ "$(grep 'grow_site$' top.txt | awk '{print $1}')" = \
    "$(grep 'grow_site$' top2.txt | awk '{print $1}')" ] ||
    fail "the diff profile and -diff_base disagree: $(cat top.txt top2.txt)"
  grep -q '^ *75\.95kB .* grow_site$' top2.txt || fail "grow_site is not +77777 B: $(cat top2.txt)" ;;
*) fail "unknown test" ;;
esac
echo "PASS: $TEST"
