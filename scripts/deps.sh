#!/usr/bin/env bash
# Makes sure the Debian packages a zmem command needs are installed.
#   scripts/deps.sh demo|test|bench
# As root it installs what is missing with apt-get; otherwise it prints the
# exact command to run and exits 1.
set -euo pipefail

# libunwind, libdw and zlib: allocation sites (stack capture, symbols, pprof).
common=(gcc libc6-dev make cmake pkgconf libunwind-dev libdw-dev zlib1g-dev)
case "${1:-}" in
  demo)  want=("${common[@]}" python3) ;;
  test)  want=("${common[@]}" pkgconf clang libclang-rt-14-dev valgrind libc6-dbg python3
               libcriterion-dev libjemalloc-dev libmimalloc-dev
               libgoogle-perftools-dev binutils python3-prometheus-client
               libsqlite3-dev libevent-dev liblua5.4-dev zlib1g-dev libssl-dev
               libexpat1-dev libpcre2-dev libjansson-dev libcurl4-openssl-dev
               libc-devtools sqlite3 golang-go chromium tmux) ;;
  bench) want=("${common[@]}" pkgconf valgrind python3 libc-devtools heaptrack libjemalloc-dev libmimalloc-dev
               libgoogle-perftools-dev libsqlite3-dev liblua5.4-dev
               libevent-dev zlib1g-dev libssl-dev libexpat1-dev libpcre2-dev
               libjansson-dev libcurl4-openssl-dev) ;;
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
