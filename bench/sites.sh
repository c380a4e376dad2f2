#!/usr/bin/env bash
# Overhead of allocation sites: the allocation-heavy C program (bench/run_churn.c)
# at 1 and 2 threads and a python3 workload, each run plain, under `zmem run`,
# `zmem run --sites`, `zmem run --sample 512K` and heaptrack, in the same run.
# Prints a table of median wall times and ratios to plain, the peak RSS of
# one more run and the memory of zmem's own table in it, and writes them to
# bench/sites-results.json.
#   bench/sites.sh [BUILD_DIR] [REPETITIONS] [CHURN_ROUNDS]
# BUILD_DIR holds bin/zmem (default build/bench; built when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build/bench}
REPS=${2:-5}
ROUNDS=${3:-2000000}
if [ ! -x "$B/bin/zmem" ]; then
  cmake -S . -B "$B" -DZMEM_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$B" -j2 --target zmem_cli zmem_preload >/dev/null
fi
ZMEM=$B/bin/zmem
W=$(mktemp -d "${TMPDIR:-/tmp}/zmem-sites-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
cc -O2 -pthread bench/run_churn.c -o "$W/churn"
PY=$(command -v /usr/bin/python3 || command -v python3)
PYCODE='import json,collections
d=collections.Counter(str(i%97) for i in range(300000))
print(len(json.dumps([list(range(i)) for i in range(600)])), d.most_common(1))'

workloads=("churn-1t|$W/churn 1 $ROUNDS" "churn-2t|$W/churn 2 $ROUNDS" "python3|PY")
tools=("plain|" "zmem-run|$ZMEM run --quiet --" "sites|$ZMEM run --quiet --sites --"
       "sample-512K|$ZMEM run --quiet --sample 512K --")
if command -v heaptrack >/dev/null; then
  tools+=("heaptrack|heaptrack -o $W/ht")
fi

run_once() { # prefix command...: wall seconds
  local t0 t1
  t0=$(date +%s.%N)
  if [ "$2" = PY ]; then
    PYTHONMALLOC=malloc $1 "$PY" -c "$PYCODE" >/dev/null 2>&1
  else
    # shellcheck disable=SC2086
    $1 $2 >/dev/null 2>&1
  fi
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}

# mem_once prefix command...: "RSS_KIB TABLE_BYTES", the peak RSS of the
# largest process of one more run (from the kernel's rusage of the waited
# children) and, under zmem, what zmem's table of live blocks had mapped in
# the largest process (its report's zmem_table_peak_bytes; 0 otherwise).
mem_once() {
  local pre=$1 json=$W/mem.json
  rm -f "$json"
  case "$pre" in "$ZMEM run "*) pre=${pre/run --quiet/run --quiet --json $json} ;; esac
  local cmd=()
  # shellcheck disable=SC2206 # the prefix is words by design
  [ "$2" = PY ] && cmd=(env PYTHONMALLOC=malloc $pre "$PY" -c "$PYCODE") || cmd=($pre $2)
  local rss
  rss=$(python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "${cmd[@]}")
  local table=0
  [ -s "$json" ] && table=$(python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["summary"]["zmem_table_peak_bytes"])' "$json")
  echo "$rss $table"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

json="{\"machine\": \"$(uname -m), $(nproc) cores, $(. /etc/os-release && echo "$PRETTY_NAME")\", \"repetitions\": $REPS, \"churn_rounds\": $ROUNDS, \"results\": ["
printf "%-12s %-12s %10s %8s %10s %10s\n" workload tool median_s ratio rss_kib table_kib
first=1
for w in "${workloads[@]}"; do
  wname=${w%%|*} wcmd=${w#*|}
  plain=""
  for t in "${tools[@]}"; do
    tname=${t%%|*} tcmd=${t#*|}
    times=$(for _ in $(seq "$REPS"); do run_once "$tcmd" "$wcmd"; done)
    m=$(echo "$times" | median)
    [ -z "$plain" ] && plain=$m
    ratio=$(echo "scale=2; $m / $plain" | bc)
    read -r rss table < <(mem_once "$tcmd" "$wcmd")
    printf "%-12s %-12s %10.3f %8.2f %10d %10d\n" "$wname" "$tname" "$m" "$ratio" "$rss" \
      $((table / 1024))
    [ $first = 1 ] || json+=", "
    first=0
    json+="{\"workload\": \"$wname\", \"tool\": \"$tname\", \"median_s\": $(printf %.6f "$m"), \"ratio\": $(printf %.2f "$ratio"), \"rss_peak_kib\": $rss, \"zmem_table_peak_bytes\": $table}"
  done
done
json+="]}"
echo "$json" >bench/sites-results.json
# bc writes ".5" for 0.5, which is no JSON number: the file is checked.
python3 -m json.tool bench/sites-results.json >/dev/null ||
  { echo "bench/sites.sh: wrote invalid JSON" >&2; exit 1; }
echo "wrote bench/sites-results.json"
