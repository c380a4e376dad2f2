#!/bin/sh
# Installs the build into a scratch prefix and builds programs against it the
# three ways users do: pkg-config, find_package + zmem::zmem, and the static
# library (zmem::zmem_static, and pkg-config --static).
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

for f in include/zmem.h "$libdir/libzmem.a" "$libdir/pkgconfig/zmem.pc" \
  "$libdir/cmake/zmem/zmemConfig.cmake"; do
  [ -e "$prefix/$f" ] || { echo "FAIL: $f not installed" >&2; exit 1; }
done
ls "$prefix/$libdir"/libzmem.so.* >/dev/null

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

# (a) pkg-config, shared.
export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig"
pc_cflags=$(pkg-config --cflags zmem)
pc_libs=$(pkg-config --libs zmem)
# shellcheck disable=SC2086 # flags are lists
"$cc" $cflags -Wall -Wextra -Werror $pc_cflags "$work/src/main.c" -o "$work/pc_shared" \
  $pc_libs $ldflags
needs_shared "$work/pc_shared" || { echo "FAIL: pc_shared not linked to libzmem.so" >&2; exit 1; }
LD_LIBRARY_PATH="$prefix/$libdir" "$work/pc_shared"

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
"$work/consumer/shared_user"
"$work/consumer/static_user"
echo "install: pkg-config (shared, static) and find_package (shared, static) ok"
