#!/usr/bin/env bash
# Builds zmem in every configuration and runs the whole test suite in each:
# the four built-in backends, a user backend without size query, the build
# without run-time replacement, ASan+UBSan, libFuzzer runs (about 75 s of
# fuzzing in all, under ASan+UBSan), TSan, and valgrind memcheck.
#   scripts/test.sh            all configurations
#   scripts/test.sh libc tsan  only those named
#   scripts/test.sh --help     usage and the configuration names
# The exit status is 0 only when every named configuration built and ran at
# least one test, and no test failed.
set -uo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc)
root=build/test
san_env="ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1:abort_on_error=1"
san_env+=" UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1"
san_env+=" TSAN_OPTIONS=halt_on_error=1:allocator_may_return_null=1"

# name | compiler | cmake arguments | environment for ctest | what it checks
# (rough time for the build and the run on 2 idle vCPUs: about 25 min in all)
configs=(
  "libc|gcc|-DZMEM_BACKEND=libc||the suite on glibc's malloc, gcc (~2 min)"
  "jemalloc|gcc|-DZMEM_BACKEND=jemalloc||the suite on jemalloc (~2 min)"
  "mimalloc|gcc|-DZMEM_BACKEND=mimalloc||the suite on mimalloc (~2 min)"
  "tcmalloc|gcc|-DZMEM_BACKEND=tcmalloc||the suite on tcmalloc (~2 min)"
  "no-replacement|gcc|-DZMEM_REPLACEMENT=OFF||run-time backend replacement compiled out (~2 min)"
  "user-nosize|clang|-DZMEM_BACKEND=libc|ZMEM_TEST_BACKEND=user-nosize|a user backend without a size query (header layout), clang (~2 min)"
  "debug-assert|clang|-DZMEM_DEBUG_ASSERT=ON -DZMEM_BACKEND=jemalloc||internal assertions on, jemalloc, clang (~2 min)"
  "asan-ubsan|clang|-DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS=-fsanitize=address,undefined;-fno-omit-frame-pointer;-fno-sanitize-recover=all|$san_env|AddressSanitizer and UBSan (~4 min)"
  "fuzz|clang|-DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS=-fsanitize=address,undefined;-fno-omit-frame-pointer;-fno-sanitize-recover=all -DZMEM_BUILD_TESTS=OFF -DZMEM_BUILD_FUZZ=ON|ASAN_OPTIONS=detect_leaks=1|the libFuzzer targets, about 75 s of fuzzing (~2 min)"
  "tsan|clang|-DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS=-fsanitize=thread|$san_env|ThreadSanitizer (~3 min)"
  "valgrind|gcc|-DCMAKE_BUILD_TYPE=Debug -DZMEM_TEST_VALGRIND=ON||the suite under valgrind memcheck (~5 min)"
)

names=()
for c in "${configs[@]}"; do names+=("${c%%|*}"); done

usage() {
  echo "usage: scripts/test.sh [CONFIGURATION...]"
  echo "Builds zmem in each configuration (all when none is named) and runs the"
  echo "test suite in each; ends with 'tests: N passed, M failed, K skipped'."
  echo "configurations: ${names[*]}"
  local c name desc
  for c in "${configs[@]}"; do
    name=${c%%|*} desc=${c##*|}
    printf '  %-15s %s\n' "$name" "$desc"
  done
  echo "Packages: scripts/deps.sh test CONFIGURATION... installs what those need."
}

selected=()
for arg in "$@"; do
  case $arg in
  -h | --help) usage; exit 0 ;;
  -*) echo "scripts/test.sh: unknown option '$arg'" >&2; usage >&2; exit 2 ;;
  esac
  if [[ " ${names[*]} " != *" $arg "* ]]; then
    echo "scripts/test.sh: unknown configuration '$arg'" >&2
    near=()
    for n in "${names[@]}"; do [[ $n == *"$arg"* ]] && near+=("$n"); done
    [ ${#near[@]} -gt 0 ] && echo "did you mean: ${near[*]}" >&2
    echo "configurations: ${names[*]}" >&2
    exit 2
  fi
  selected+=("$arg")
done

scripts/deps.sh test "${selected[@]}" || exit 1

passed=0 failed=0 skipped=0 bad_configs=()
run_config() {
  local name=$1 cc=$2 args=$3 env=$4 dir=$root/$1
  echo "=== $name"
  local cmake_args=()
  IFS=' ' read -r -a cmake_args <<<"$args"
  # -DCMAKE_C_FLAGS values use ';' for spaces, so the split above keeps them whole.
  cmake_args=("${cmake_args[@]//;/ }")
  if ! cmake -S . -B "$dir" -DCMAKE_C_COMPILER="$cc" -DZMEM_BUILD_BENCH=OFF \
        -DZMEM_BUILD_TESTS=ON -DZMEM_WERROR=ON "${cmake_args[@]}" >"$dir.log" 2>&1 ||
     ! cmake --build "$dir" -j"$jobs" >>"$dir.log" 2>&1; then
    tail -n 40 "$dir.log"; echo "=== $name: BUILD FAILED"
    failed=$((failed + 1)); bad_configs+=("$name"); return
  fi
  local out
  # Criterion names the tests it skips only when verbose.
  out=$(cd "$dir" && env CRITERION_VERBOSITY_LEVEL=1 $env \
    ctest --output-on-failure -j"$jobs" 2>&1)
  local rc=$?
  echo "$out" | grep -E "tests passed|Failed|\*\*\*|Timeout|Exception" | tail -n 20
  local total fail
  total=$(echo "$out" | sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' | tail -n 1)
  fail=$(echo "$out" | sed -n 's/.*, \([0-9]*\) tests failed out of.*/\1/p' | tail -n 1)
  total=${total:-0} fail=${fail:-0}
  # Skipped tests (a missing package): each with the line it printed that
  # starts with "skip" (any case).
  local skip t
  skip=$(echo "$out" | grep -c '\*\*\*Skipped')
  for t in $(echo "$out" | sed -n 's/.*Test *#[0-9]*: \([^ ]*\) .*\*\*\*Skipped.*/\1/p'); do
    echo "skipped: $t: $(cd "$dir" && ctest -V -R "^$t\$" 2>&1 |
      sed -n 's/^[0-9]*: \([Ss][Kk][Ii][Pp].*\)/\1/p' | head -n 1)"
  done
  # Tests a test program skipped inside itself (Criterion's and the shim's
  # "[SKIP] suite::name: reason"): not CTest tests, so not in the tally.
  awk '/^[0-9]+\/[0-9]+ Testing: / { t = $3 }
       /\[SKIP\]/ { sub(/.*\[SKIP\] */, ""); sub(/\[====\].*/, "");
                     print "skipped in " t ": " $0 }' \
    "$dir/Testing/Temporary/LastTest.log" 2>/dev/null
  if [ "$rc" -ne 0 ] || [ "$total" -eq 0 ]; then
    echo "$out" | tail -n 60
    [ "$fail" -eq 0 ] && fail=1
    bad_configs+=("$name")
  fi
  passed=$((passed + total - fail - skip)); failed=$((failed + fail))
  skipped=$((skipped + skip))
}

mkdir -p "$root"
for c in "${configs[@]}"; do
  IFS='|' read -r name cc args env _ <<<"$c"
  if [ ${#selected[@]} -gt 0 ] && [[ ! " ${selected[*]} " == *" $name "* ]]; then
    continue
  fi
  run_config "$name" "$cc" "$args" "$env"
done

echo
if [ ${#bad_configs[@]} -gt 0 ]; then
  echo "zmem: FAILED in: ${bad_configs[*]}"
fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
if [ $((passed + failed)) -eq 0 ]; then
  echo "zmem: FAILED: no test ran" >&2
  exit 1
fi
[ ${#bad_configs[@]} -eq 0 ]
