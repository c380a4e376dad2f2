#!/usr/bin/env bash
# Checks the README's build on a bare Debian 12: a minbase chroot with only
# gcc, make and cmake, as `apt-get install gcc make cmake` leaves it (with
# libc6-dev, which gcc recommends; no pkg-config, Criterion or Python; the
# C library's headers come with libc6-dev). In it, from the
# committed tree (HEAD, as a fresh clone has it):
#   cmake -S . -B build && cmake --build build && cmake --install build
# must succeed with the tests off and a message naming their packages; a
# program built with `cc app.c -lzmem` must run from /usr/local; and
# scripts/demo.sh must run. With --test it then runs `scripts/test.sh libc`
# there, which installs the test packages first (needs the network).
#   scripts/check-bare-debian.sh [--test] DIR
# Needs root and debootstrap; the first run makes DIR/base from the Debian
# archive (a few minutes, about 550 MB) and keeps it; every run works in a
# fresh copy, DIR/run. Keep DIR outside the repository.
set -euo pipefail
with_tests=no
if [ "${1:-}" = --test ]; then
  with_tests=yes
  shift
fi
if [ $# -ne 1 ] || [ "${1:0:1}" = - ]; then
  echo "usage: $0 [--test] DIR" >&2
  exit 2
fi
dir=$(realpath -m "$1")
repo=$(cd "$(dirname "$0")/.." && pwd)
case $dir/ in "$repo"/*) echo "$0: DIR must be outside the repository" >&2; exit 2 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "$0: needs root (debootstrap, chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null ||
  { echo "$0: needs debootstrap: apt-get install -y debootstrap" >&2; exit 1; }

if [ ! -x "$dir/base/usr/bin/cmake" ] || [ ! -e "$dir/base/usr/include/stdio.h" ]; then
  rm -rf "$dir/base"
  mkdir -p "$dir"
  echo "== debootstrap: minbase bookworm + gcc make cmake into $dir/base"
  # --include does not follow Recommends, as apt-get does: name libc6-dev.
  debootstrap --variant=minbase --include=gcc,make,cmake,libc6-dev bookworm "$dir/base" \
    http://deb.debian.org/debian >"$dir/debootstrap.log" 2>&1 ||
    { tail -n 20 "$dir/debootstrap.log"; exit 1; }
fi

run=$dir/run
rm -rf "$run"
cp -a "$dir/base" "$run"
cp /etc/resolv.conf "$run/etc/resolv.conf" # for --test's apt-get
mkdir -p "$run/root/zmem"
git -C "$repo" archive --format=tar HEAD | tar -x -C "$run/root/zmem"
echo "== zmem $(git -C "$repo" rev-parse --short HEAD) in $run/root/zmem"
mount -t proc proc "$run/proc"
trap 'umount "$run/proc"' EXIT

chroot "$run" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
  TERM=dumb WITH_TESTS=$with_tests /bin/bash -s <<'CHROOT'
set -euo pipefail
cd /root/zmem
echo "== bare: $(gcc --version | head -n 1); $(cmake --version | head -n 1)"
for p in pkg-config python3; do
  if command -v $p >/dev/null; then echo "not bare: $p is installed" >&2; exit 1; fi
done
if dpkg-query -W libcriterion-dev >/dev/null 2>&1; then
  echo "not bare: libcriterion-dev is installed" >&2; exit 1
fi

echo "== cmake -S . -B build && cmake --build build && cmake --install build"
cmake -S . -B build >configure.log
grep "zmem: tests" configure.log
grep -q "zmem: tests OFF: missing .*libcriterion-dev" configure.log
cmake --build build >build.log
grep -i "warning" build.log && { echo "compiler warnings above" >&2; exit 1; }
cmake --install build | grep -E "libzmem.so.0$|ldconfig"

echo "== cc examples/readme.c -lzmem, run from /usr/local"
cc -Wall -Wextra examples/readme.c -o /tmp/readme -lzmem
/tmp/readme | head -n 1

echo "== scripts/demo.sh"
scripts/demo.sh

if [ "$WITH_TESTS" = yes ]; then
  echo "== scripts/test.sh libc"
  scripts/test.sh libc
fi
echo "== bare Debian 12: build, install and demo ok"
CHROOT
