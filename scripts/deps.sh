#!/usr/bin/env bash
# Makes sure the Debian packages a zmem command needs are installed.
#   scripts/deps.sh demo|bench
#   scripts/deps.sh test [CONFIGURATION...]   what those configurations of
#                                             scripts/test.sh need (all: none named)
#   scripts/deps.sh --print demo|bench|test [CONFIGURATION...]   the list only
# As root it installs what is missing with apt-get (its output goes to
# build/deps-apt.log); otherwise it prints the exact command to run and
# exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: $0 [--print] demo|bench|test [CONFIGURATION...]" >&2
  exit 2
}

# libunwind, libdw and zlib: allocation sites (stack capture, symbols, pprof).
common=(gcc libc6-dev make cmake pkgconf libunwind-dev libdw-dev zlib1g-dev)
# What the test suite uses in every configuration: Criterion, the adapters'
# libraries, the programs the tests profile or compare with, the checkers
# of the outputs (pprof, a browser driven through selenium for the flame
# graph and the HTML report, groff for the manual pages, tmux for the live
# view).
suite=(python3 libcriterion-dev valgrind libc6-dbg binutils python3-prometheus-client
       libsqlite3-dev libevent-dev liblua5.4-dev libssl-dev libexpat1-dev
       libpcre2-dev libjansson-dev libcurl4-openssl-dev libc-devtools sqlite3
       golang-go chromium chromium-driver python3-selenium groff-base libjemalloc2 tmux)
clang=(clang libclang-rt-14-dev)

# config_packages NAME: what scripts/test.sh's configuration NAME adds to
# the suite's packages (its compiler, its backend); status 1 for a name
# that is not a configuration.
config_packages() {
  case $1 in
  libc | no-replacement | valgrind) ;;
  jemalloc) echo libjemalloc-dev ;;
  mimalloc) echo libmimalloc-dev ;;
  tcmalloc) echo libgoogle-perftools-dev ;;
  debug-assert) echo "${clang[@]}" libjemalloc-dev ;;
  user-nosize | asan-ubsan | fuzz | tsan) echo "${clang[@]}" ;;
  *) return 1 ;;
  esac
}
all_configs=(libc jemalloc mimalloc tcmalloc no-replacement user-nosize debug-assert
             asan-ubsan fuzz tsan valgrind)

print=false
if [ "${1:-}" = "--print" ]; then
  print=true
  shift
fi
what=${1:-}
[ $# -gt 0 ] && shift
case $what in
demo) want=("${common[@]}" python3) ;;
bench) want=("${common[@]}" valgrind python3 libc-devtools heaptrack libjemalloc-dev
             libmimalloc-dev libgoogle-perftools-dev libsqlite3-dev liblua5.4-dev
             libevent-dev libssl-dev libexpat1-dev libpcre2-dev
             libjansson-dev libcurl4-openssl-dev) ;;
test)
  want=("${common[@]}" "${suite[@]}")
  [ $# -gt 0 ] || set -- "${all_configs[@]}"
  for c in "$@"; do
    extra=$(config_packages "$c") || { echo "$0: unknown configuration '$c'" >&2; usage; }
    # shellcheck disable=SC2206 # a list of package names
    want+=($extra)
  done ;;
*) usage ;;
esac
[ "$what" = test ] || [ $# -eq 0 ] || usage
# One of each, in order.
mapfile -t want < <(printf '%s\n' "${want[@]}" | awk '!seen[$0]++')

if $print; then
  echo "${want[*]}"
  exit 0
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "zmem: missing packages. Install them with:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
mkdir -p build
log=build/deps-apt.log
echo "zmem: installing ${missing[*]} (apt-get output in $log)" >&2
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
     >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  echo "zmem: apt-get failed; its output is in $log" >&2
  exit 1
fi
