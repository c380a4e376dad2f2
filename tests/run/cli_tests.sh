#!/usr/bin/env bash
# Tests of the `zmem` command line and of the outputs' shapes.
#   cli_tests.sh ZMEM HELPERS_DIR TEST
. "$(dirname "$0")/../script_test.sh" cli "$@"

# refused PATTERN zmem-args...: status 2, a message naming the problem, the
# program never started.
refused() {
  local pat=$1
  shift
  timeout 60 "$ZMEM" "$@" >out.txt 2>err.txt
  local rc=$?
  [ $rc = 2 ] || fail "zmem $*: status $rc, wanted 2 ($(head -3 err.txt; head -3 out.txt))"
  grep -q -- "$pat" err.txt || fail "zmem $*: no '$pat' in: $(head -3 err.txt)"
  [ ! -e ran.txt ] || fail "zmem $*: the program ran"
}

case $TEST in
numbers)
  # Every number is range-checked: out of range is refused, never wrapped.
  big=18446744073709551615 over=18446744073709551616
  for n in $big $over 9223372036854775808 99999999999999999999999; do
    refused "from" sweep --from $n -- touch ran.txt
    refused "to" sweep --to $n -- touch ran.txt
    refused "fail" run --fail $n -- touch ran.txt
    refused "fail" run --fail 1:$n -- touch ran.txt
    refused "jobs" sweep --jobs $n -- touch ran.txt
    refused "depth" run --depth $n -- touch ran.txt
    refused "interval" run --interval $n -- touch ran.txt
  done
  refused "max-peak" run --max-peak $over -- touch ran.txt
  refused "max-peak" run --max-peak 16777216T -- touch ran.txt
  refused "seed" run --fail-p 0.5 --seed $over -- touch ran.txt
  refused "from" sweep --from 0x10 -- touch ran.txt
  refused "from" sweep --from 1e3 -- touch ran.txt
  refused "from" sweep --from " 5" -- touch ran.txt
  refused "depth" run --depth 129 -- touch ran.txt
  # The largest values taken are taken.
  "$ZMEM" run --quiet --fail-p 0 --seed $big -- true || fail "--seed $big refused"
  "$ZMEM" run --quiet --fail 9223372036854775807 -- true ||
    fail "--fail 9223372036854775807 refused" ;;
plot_lifetime)
  # A short-lived process is drawn over its own lifetime: its line ends
  # where it ended, not at the end of the run.
  "$ZMEM" run --quiet --json r.json --plot p.svg --interval 5 -- \
    sh -c "$H/zmem_run_quick_exit; sleep 1" >/dev/null 2>err.txt ||
    fail "status $? ($(head -2 err.txt))"
  python3 - <<'PY' || fail "the short process is drawn past its end"
import json, re, xml.dom.minidom
d = json.load(open("r.json"))
svg = xml.dom.minidom.parse("p.svg")
lines = svg.getElementsByTagName("polyline")
legend = [t.firstChild.data for t in svg.getElementsByTagName("text")
          if t.firstChild and "zmem_run_quick" in t.firstChild.data]
assert legend, "no legend entry for the short process"
quick = [p for p in d["processes"] if p["command"].endswith("zmem_run_quick_exit")][0]
names = [t.firstChild.data for t in svg.getElementsByTagName("text")
         if t.firstChild and re.match(r"^\S+ \S+  \d+ ", t.firstChild.data)]
i = [k for k, n in enumerate(names) if f" {quick['pid']} " in n][0]
xs = [float(pt.split(",")[0]) for pt in lines[i].getAttribute("points").split()]
left, width = 90, 960 - 90 - 250
end_x = left + quick["end_s"] / d["wall_s"] * width
assert xs and max(xs) <= end_x + 1, (max(xs), end_x, quick["end_s"], d["wall_s"])
assert min(xs) >= left + quick["start_s"] / d["wall_s"] * width - 1, (min(xs), quick)
PY
  ;;
*) fail "unknown test" ;;
esac
echo "PASS: $TEST"
