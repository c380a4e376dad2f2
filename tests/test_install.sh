#!/bin/sh
# Installs the build into a scratch prefix and builds programs against it the
# three ways users do: pkg-config, find_package + zmem::zmem, and the static
# library (zmem::zmem_static, and pkg-config --static). Then checks the
# convention for a prefix the dynamic loader does not search (README,
# "Installing"): none of these programs needs LD_LIBRARY_PATH when built as
# documented, and the programs and libraries zmem installs itself find
# libzmem.so through RUNPATH $ORIGIN, from any prefix, even once moved.
#   test_install.sh BUILD_DIR WORK_DIR CMAKE CC LIBDIR [CFLAGS [LDFLAGS]]
set -eu
build=$1
work=$2
cmake=$3
cc=$4
libdir=$5
cflags=${6:-}
ldflags=${7:-}

rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix
"$cmake" --install "$build" --prefix "$prefix" >"$work/install.log"

for f in include/zmem.h include/zmem/sqlite.h include/zmem/libevent.h \
  include/zmem/lua.h include/zmem/zlib.h include/zmem/openssl.h \
  include/zmem/expat.h include/zmem/pcre2.h include/zmem/jansson.h \
  include/zmem/curl.h "$libdir/libzmem.a" "$libdir/pkgconfig/zmem.pc" \
  "$libdir/cmake/zmem/zmemConfig.cmake"; do
  [ -e "$prefix/$f" ] || { echo "FAIL: $f not installed" >&2; exit 1; }
done
ls "$prefix/$libdir"/libzmem.so.* >/dev/null

# The zmem command, when built: its version, a --help that points to the
# manual pages (not to the source tree's docs/, which is not installed),
# and every page of the source's man/ installed and rendered without a
# warning by groff (what man(1) runs).
if [ -x "$prefix/bin/zmem" ]; then
  src=$(sed -n 's/^zmem_SOURCE_DIR:STATIC=//p' "$build/CMakeCache.txt")
  want=$(sed -n 's/^#define ZMEM_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\).*/\2/p' \
    "$src/include/zmem.h" | paste -sd. -)
  got=$("$prefix/bin/zmem" --version) ||
    { echo "FAIL: zmem --version exited $?" >&2; exit 1; }
  [ "$got" = "zmem $want" ] ||
    { echo "FAIL: zmem --version printed '$got', not 'zmem $want'" >&2; exit 1; }
  "$prefix/bin/zmem" --help >"$work/help.txt"
  "$prefix/bin/zmem" run --help >>"$work/help.txt"
  "$prefix/bin/zmem" sweep --help >>"$work/help.txt"
  for m in "man zmem," "man zmem-run" "man zmem-sweep"; do
    grep -qF "$m" "$work/help.txt" || { echo "FAIL: --help does not say '$m'" >&2; exit 1; }
  done
  if grep -n 'docs/\|\.md\b' "$work/help.txt"; then
    echo "FAIL: --help points into the source tree" >&2
    exit 1
  fi
  pages=0
  for page in "$src"/man/*.1; do
    inst=$(find "$prefix" -path "*/man1/${page##*/}")
    [ -n "$inst" ] || { echo "FAIL: ${page##*/} not installed in a man1 directory" >&2; exit 1; }
    if command -v groff >/dev/null; then
      groff -man -Tutf8 -ww -z "$inst" 2>"$work/groff.txt"
      [ ! -s "$work/groff.txt" ] ||
        { echo "FAIL: groff warns on ${page##*/}: $(cat "$work/groff.txt")" >&2; exit 1; }
    fi
    pages=$((pages + 1))
  done
  [ "$pages" -ge 3 ] || { echo "FAIL: only $pages manual pages in $src/man" >&2; exit 1; }
  echo "install: zmem --version, --help and $pages manual pages ok"
fi

mkdir -p "$work/src"
cat >"$work/src/main.c" <<'C'
#include <zmem.h>

#include <stdio.h>
#include <string.h>

int main(void) {
  if (zm_version() != ZMEM_VERSION) {
    fprintf(stderr, "header %d, library %d\n", ZMEM_VERSION, zm_version());
    return 1;
  }
  size_t before = zm_used_memory();
  char *s = zm_strdup("installed");
  if (!s || strcmp(s, "installed") != 0 || zm_used_memory() <= before)
    return 2;
  zm_free(s);
  if (zm_used_memory() != before)
    return 3;
  puts("consumer ok");
  return 0;
}
C

needs_shared() { # BINARY: 0 if it links libzmem.so dynamically
  readelf -d "$1" | grep -q 'NEEDED.*\[libzmem\.so'
}

# run_bare BINARY: runs it with nothing in the environment that points the
# loader at the prefix.
run_bare() {
  env -u LD_LIBRARY_PATH -u LD_PRELOAD "$@"
}

# zmem_from BINARY PREFIX: the loader resolves the binary's libzmem.so.MAJOR
# inside PREFIX, without LD_LIBRARY_PATH.
zmem_from() {
  got=$(env -u LD_LIBRARY_PATH ldd "$1" | sed -n 's/.*libzmem\.so[^ ]* => \([^ ]*\).*/\1/p')
  case $got in
  "$2"/*) ;;
  *) echo "FAIL: $1 finds libzmem.so at '$got', not in $2" >&2; exit 1 ;;
  esac
}

# (a) pkg-config, shared.
export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig"
pc_cflags=$(pkg-config --cflags zmem)
pc_libs=$(pkg-config --libs zmem)
# shellcheck disable=SC2086 # flags are lists
"$cc" $cflags -Wall -Wextra -Werror $pc_cflags "$work/src/main.c" -o "$work/pc_shared" \
  $pc_libs $ldflags
needs_shared "$work/pc_shared" || { echo "FAIL: pc_shared not linked to libzmem.so" >&2; exit 1; }
LD_LIBRARY_PATH="$prefix/$libdir" "$work/pc_shared"

# (a'') pkg-config, shared, with the prefix's libdir as RUNPATH: runs as is.
pc_libdir=$(pkg-config --variable=libdir zmem)
# shellcheck disable=SC2086
"$cc" $cflags $pc_cflags "$work/src/main.c" -o "$work/pc_rpath" \
  $pc_libs -Wl,-rpath,"$pc_libdir" $ldflags
zmem_from "$work/pc_rpath" "$prefix"
run_bare "$work/pc_rpath"

# (a') pkg-config --static: Libs.private / Requires.private must be complete.
pc_static=$(pkg-config --static --libs zmem | sed 's/-lzmem/-Wl,-Bstatic -lzmem -Wl,-Bdynamic/')
# shellcheck disable=SC2086
"$cc" $cflags $pc_cflags "$work/src/main.c" -o "$work/pc_static" $pc_static $ldflags
if needs_shared "$work/pc_static"; then
  echo "FAIL: pc_static needs libzmem.so" >&2
  exit 1
fi
"$work/pc_static"

# (b), (c) a CMake project with find_package(zmem).
cat >"$work/src/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.20)
project(zmem_consumer C)
find_package(zmem REQUIRED)
if(NOT zmem_DIR MATCHES "^$prefix/")
  message(FATAL_ERROR "found zmem in \${zmem_DIR}, not in $prefix")
endif()
add_executable(shared_user main.c)
target_link_libraries(shared_user PRIVATE zmem::zmem)
add_executable(static_user main.c)
target_link_libraries(static_user PRIVATE zmem::zmem_static)
# Installed, shared_user keeps the directories it linked from as RUNPATH.
set_target_properties(shared_user PROPERTIES INSTALL_RPATH_USE_LINK_PATH ON)
install(TARGETS shared_user static_user)
CM
"$cmake" -S "$work/src" -B "$work/consumer" \
  -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_C_FLAGS="$cflags" \
  -DCMAKE_EXE_LINKER_FLAGS="$ldflags" >"$work/consumer.log"
"$cmake" --build "$work/consumer" >>"$work/consumer.log"
needs_shared "$work/consumer/shared_user" ||
  { echo "FAIL: shared_user not linked to libzmem.so" >&2; exit 1; }
if needs_shared "$work/consumer/static_user"; then
  echo "FAIL: static_user needs libzmem.so" >&2
  exit 1
fi
# In the consumer's build tree and once installed: no LD_LIBRARY_PATH.
run_bare "$work/consumer/shared_user"
run_bare "$work/consumer/static_user"
"$cmake" --install "$work/consumer" --prefix "$work/app" >>"$work/consumer.log"
zmem_from "$work/app/bin/shared_user" "$prefix"
run_bare "$work/app/bin/shared_user"

# (d) What zmem installs itself: libzmem.so carries no RUNPATH; every other
# program or library that needs it finds it through $ORIGIN, here and from
# a copy of the prefix elsewhere (the original hidden).
if readelf -d "$prefix/$libdir/libzmem.so" | grep -Eq 'R(UN)?PATH'; then
  echo "FAIL: libzmem.so has a RUNPATH" >&2
  exit 1
fi
own=""
for f in "$prefix"/bin/* "$prefix/$libdir"/*.so; do
  [ -f "$f" ] && [ ! -L "$f" ] || continue
  case $f in */libzmem.so*) continue ;; esac
  readelf -h "$f" >/dev/null 2>&1 && needs_shared "$f" || continue
  readelf -d "$f" | grep -q 'RUNPATH.*\$ORIGIN' ||
    { echo "FAIL: $f needs libzmem.so but has no RUNPATH \$ORIGIN" >&2; exit 1; }
  zmem_from "$f" "$prefix"
  own="$own ${f#"$prefix"/}"
done
if [ -n "$own" ]; then
  cp -a "$prefix" "$work/moved"
  mv "$prefix" "$work/hidden"
  for f in $own; do zmem_from "$work/moved/$f" "$work/moved"; done
  mv "$work/hidden" "$prefix"
fi
# (e) an adapter header from the installed tree, with its library (zlib).
if pkg-config --exists zlib; then
  cat >"$work/src/zlib_user.c" <<'C'
#include <zmem/zlib.h>

#include <string.h>

int main(void) {
  zm_tag t = zm_tag_new("zlib");
  z_stream s;
  memset(&s, 0, sizeof s);
  zm_zlib_use(&s, t);
  if (deflateInit(&s, 6) != Z_OK || zm_tag_used(t) == 0)
    return 1;
  deflateEnd(&s);
  return zm_tag_used(t) == 0 ? 0 : 2;
}
C
  # shellcheck disable=SC2086
  "$cc" $cflags -Wall -Wextra -Werror $pc_cflags $(pkg-config --cflags zlib) \
    "$work/src/zlib_user.c" -o "$work/zlib_user" $pc_libs $(pkg-config --libs zlib) $ldflags
  LD_LIBRARY_PATH="$prefix/$libdir" "$work/zlib_user"
  echo "install: the installed zmem/zlib.h builds and runs"
fi
echo "install: zmem's own programs and libraries on RUNPATH \$ORIGIN:${own:- none installed}"
echo "install: pkg-config (shared, shared with rpath, static) and find_package (shared, static, installed) ok"
