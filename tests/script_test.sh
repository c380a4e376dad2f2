# Sourced by the script tests of the zmem command (tests/run, tests/sweep):
#   . script_test.sh NAME ZMEM HELPERS_DIR TEST
# Sets ZMEM, H (the helpers' build folder), TEST and HERE (the sourcing
# script's folder), moves into a fresh temporary folder removed at exit,
# and defines fail (exit 1) and skip (exit 77).
set -u
ZMEM=$2
H=$3
TEST=$4
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d "${TMPDIR:-/tmp}/zmem-$1-test.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W" || exit 1

fail() { echo "FAIL: $TEST: $*" >&2; exit 1; }
skip() { echo "SKIP: $TEST: $*" >&2; exit 77; }

# memory_cgroup BYTES: a memory cgroup limited to BYTES (swap too where it
# can be) for this test, removed at exit; its folder in CG. Returns 1 with
# the reason in CG_WHY where none can be made (not root, no writable
# memory controller, v2 or else v1).
memory_cgroup() {
  CG= CG_WHY=
  [ "$(id -u)" = 0 ] || { CG_WHY="not root: cannot create a memory cgroup"; return 1; }
  if grep -qw memory /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
    CG=/sys/fs/cgroup/zmem-test-$$
    mkdir "$CG" 2>/dev/null || { CG_WHY="cgroup v2: cannot create $CG"; return 1; }
    echo "$1" >"$CG/memory.max" && echo 0 >"$CG/memory.swap.max" 2>/dev/null
  elif [ -w /sys/fs/cgroup/memory ]; then
    CG=/sys/fs/cgroup/memory/zmem-test-$$
    mkdir "$CG" 2>/dev/null || { CG_WHY="cgroup v1: cannot create $CG"; return 1; }
    echo "$1" >"$CG/memory.limit_in_bytes"
    [ -e "$CG/memory.memsw.limit_in_bytes" ] &&
      echo "$1" >"$CG/memory.memsw.limit_in_bytes" 2>/dev/null
  else
    CG_WHY="no writable memory cgroup controller"
    return 1
  fi
  trap 'rmdir "$CG" 2>/dev/null; rm -rf "$W"' EXIT
}

# in_cgroup CMD...: CMD run inside $CG, at most 120 s.
in_cgroup() {
  timeout 120 sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG" "$@"
}
