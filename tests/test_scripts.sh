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

# deps.sh installs what the named configurations need, and no more.
for n in $names; do
  expect 0 "$work/print.out" "$src/scripts/deps.sh" --print test "$n"
done
expect 2 "$work/deps2.out" "$src/scripts/deps.sh" test nonsense
has "$work/deps2.out" "unknown configuration 'nonsense'"
"$src/scripts/deps.sh" --print test libc >"$work/libc.pkgs"
for p in clang libjemalloc-dev libmimalloc-dev libgoogle-perftools-dev; do
  grep -qw -- "$p" "$work/libc.pkgs" && fail "deps.sh test libc wants $p: $(cat "$work/libc.pkgs")"
done
has "$work/libc.pkgs" "libcriterion-dev"
"$src/scripts/deps.sh" --print test tsan jemalloc >"$work/tsan.pkgs"
has "$work/tsan.pkgs" "clang"
has "$work/tsan.pkgs" "libjemalloc-dev"
"$src/scripts/deps.sh" --print test >"$work/all.pkgs"
for p in clang libmimalloc-dev libgoogle-perftools-dev valgrind; do
  grep -qw -- "$p" "$work/all.pkgs" || fail "deps.sh test wants no $p"
done
# --help says what each configuration checks, and roughly how long it takes.
for n in $names; do
  grep -Eq "^  $n +[a-zA-Z].*\(~[0-9]+ min\)$" "$work/help.out" ||
    fail "test.sh --help: no description of $n"
done

# The demo's output on a new machine: one line for the packages it
# installs (apt-get's own output goes to a log), one for the build, then
# the command and its report, and where zmem is; not the program's own
# output. A copy of the scripts runs with fake dpkg-query, apt-get, id,
# cmake and zmem on PATH.
repo=$work/repo fake=$work/fake
mkdir -p "$repo/scripts" "$repo/examples" "$fake"
cp "$src/scripts/demo.sh" "$src/scripts/deps.sh" "$repo/scripts/"
printf 'print("the program writes this")\n' >"$repo/examples/workload.py"
printf '#!/bin/sh\nexit 1\n' >"$fake/dpkg-query"
printf '#!/bin/sh\necho 0\n' >"$fake/id"
cat >"$fake/apt-get" <<'SH'
#!/bin/sh
echo "Reading package lists..."
echo "debconf: delaying package configuration, since apt-utils is not installed" >&2
SH
cat >"$fake/cmake" <<'SH'
#!/bin/sh
echo "-- Configuring done"
echo "warning: something the build says" >&2
mkdir -p build/demo/bin
cat >build/demo/bin/zmem <<'ZM'
#!/bin/sh
while [ "$1" != "--" ]; do shift; done
shift
echo "zmem run: $*" >&2
"$@"
echo "processes (1)" >&2
ZM
chmod +x build/demo/bin/zmem
SH
chmod +x "$fake"/*
PATH="$fake:$PATH" expect 0 "$work/demo.out" "$repo/scripts/demo.sh"
head -n 1 "$work/demo.out" | grep -q "^zmem: installing .*python3.* (apt-get output in build/deps-apt.log)$" ||
  fail "demo: the first line is not the packages it installs: $(cat "$work/demo.out")"
for noise in "Reading package" debconf Configuring "something the build" "the program writes"; do
  grep -q "$noise" "$work/demo.out" && fail "demo: '$noise' in its output: $(cat "$work/demo.out")"
done
has "$repo/build/deps-apt.log" "debconf: delaying"
has "$work/demo.out" "zmem run: "
has "$work/demo.out" "export PATH="
[ "$(wc -l <"$work/demo.out")" -eq 9 ] || fail "demo: not 9 lines: $(cat "$work/demo.out")"

[ $status -eq 0 ] && echo "scripts: test.sh and deps.sh names, packages per configuration, the demo's output, tests AUTO/ON without Criterion ok"
exit $status
