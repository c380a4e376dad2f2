#!/bin/sh
# What a newcomer runs first: scripts/test.sh and scripts/deps.sh refuse
# names they do not know and list the valid ones; a configure step without
# the test dependencies leaves the tests off and names the packages, or
# fails naming them when the tests were asked for.
#   test_scripts.sh SOURCE_DIR WORK_DIR CMAKE
set -u
src=$1
work=$2
cmake=$3
status=0
fail() {
  echo "FAIL: $*" >&2
  status=1
}
names="libc jemalloc mimalloc tcmalloc no-replacement user-nosize debug-assert asan-ubsan fuzz tsan valgrind"
rm -rf "$work"
mkdir -p "$work"

# expect RC OUTFILE COMMAND...: runs COMMAND (stdout and stderr to OUTFILE)
# and checks its exit status.
expect() {
  want=$1 out=$2
  shift 2
  "$@" >"$out" 2>&1
  got=$?
  [ "$got" -eq "$want" ] || fail "'$*' exited $got, not $want: $(cat "$out")"
}
has() { # FILE TEXT: the file holds TEXT
  grep -qF -- "$2" "$1" || fail "no '$2' in $1: $(cat "$1")"
}

# Unknown configurations are errors that list the valid ones, before
# anything is built or installed.
for bad in nonsense asan "libc asan"; do
  # shellcheck disable=SC2086 # "libc asan" is two arguments
  expect 2 "$work/bad.out" "$src/scripts/test.sh" $bad
  has "$work/bad.out" "unknown configuration"
  for n in $names; do has "$work/bad.out" "$n"; done
  grep -q "^tests: " "$work/bad.out" && fail "test.sh $bad reported a tally"
done
has "$work/bad.out" "did you mean: asan-ubsan"
expect 2 "$work/opt.out" "$src/scripts/test.sh" --bogus
has "$work/opt.out" "usage:"

# --help: usage and every name, exit 0, nothing built.
expect 0 "$work/help.out" "$src/scripts/test.sh" --help
has "$work/help.out" "usage: scripts/test.sh"
for n in $names; do has "$work/help.out" "$n"; done
expect 0 "$work/h.out" "$src/scripts/test.sh" -h
cmp -s "$work/help.out" "$work/h.out" || fail "-h and --help differ"

# Every configuration test.sh knows is listed by --help, and only those.
listed=$(sed -n 's/^configurations: //p' "$work/help.out")
[ "$listed" = "$names" ] || fail "test.sh lists '$listed', this test knows '$names'"

expect 2 "$work/deps.out" "$src/scripts/deps.sh" nonsense
has "$work/deps.out" "usage:"

# Without Criterion (no .pc file found): tests off by default, with the
# package to install; an error when asked for with ZMEM_BUILD_TESTS=ON.
PKG_CONFIG_LIBDIR=$work/no-pc expect 0 "$work/auto.out" "$cmake" -S "$src" \
  -B "$work/auto" -DZMEM_BUILD_BENCH=OFF
has "$work/auto.out" "zmem: tests OFF: missing libcriterion-dev"
has "$work/auto.out" "apt-get install -y libcriterion-dev"
[ -e "$work/auto/CTestTestfile.cmake" ] && fail "tests configured without Criterion"
PKG_CONFIG_LIBDIR=$work/no-pc expect 1 "$work/on.out" "$cmake" -S "$src" \
  -B "$work/on" -DZMEM_BUILD_BENCH=OFF -DZMEM_BUILD_TESTS=ON
has "$work/on.out" "ZMEM_BUILD_TESTS=ON, but the tests need"
expect 1 "$work/mode.out" "$cmake" -S "$src" -B "$work/mode" -DZMEM_BUILD_TESTS=maybe
has "$work/mode.out" "ZMEM_BUILD_TESTS must be AUTO, ON or OFF"

[ $status -eq 0 ] && echo "scripts: test.sh and deps.sh names, tests AUTO/ON without Criterion ok"
exit $status
