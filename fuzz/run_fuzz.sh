#!/bin/sh
# Runs a libFuzzer target for a while from a seed corpus, without writing
# into it: new inputs go to a scratch directory, removed at the end. A crash
# or an invariant failure fails the run; libFuzzer prints the input.
#   run_fuzz.sh TARGET SEED_CORPUS_DIR SECONDS
set -u
exe=$1 seeds=$2 seconds=$3
dir=$(mktemp -d "${TMPDIR:-/tmp}/zmem-fuzz.XXXXXX")
trap 'rm -rf "$dir"' EXIT
"$exe" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
  -artifact_prefix="$dir/" -print_final_stats=1 "$dir" "$seeds"
