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
