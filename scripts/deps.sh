#!/usr/bin/env bash
# Makes sure the Debian packages a zmem command needs are installed.
#   scripts/deps.sh demo|test|bench
# As root it installs what is missing with apt-get; otherwise it prints the
# exact command to run and exits 1.
set -euo pipefail

# libunwind, libdw and zlib: allocation sites (stack capture, symbols, pprof).
common=(gcc make cmake pkgconf libunwind-dev libdw-dev zlib1g-dev)
case "${1:-}" in
  demo)  want=("${common[@]}") ;;
  test)  want=("${common[@]}" clang libclang-rt-14-dev valgrind libc6-dbg python3
               libcriterion-dev libjemalloc-dev libmimalloc-dev
               libgoogle-perftools-dev binutils python3-prometheus-client
               golang-go chromium) ;;
  bench) want=("${common[@]}" valgrind python3 libjemalloc-dev libmimalloc-dev
               libgoogle-perftools-dev libsqlite3-dev liblua5.4-dev) ;;
  *) echo "usage: $0 demo|test|bench" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  echo "zmem: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "zmem: missing packages. Install them with:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
