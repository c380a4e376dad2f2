#!/bin/sh
# The libraries export the zm_ API and nothing else, and the shared library's
# SONAME is its major version.
#   test_symbols.sh LIBZMEM.so LIBZMEM.a MAJOR
set -eu
shared=$1
static=$2
major=$3
status=0

fail() {
  echo "FAIL: $*" >&2
  status=1
}

# Symbols a compiler's instrumentation adds (sanitizer builds); not ours.
instrumentation='^(__asan_|___asan_|__odr_asan|__tsan_|__ubsan_|__sancov_|__sanitizer_)'

# Shared: only public names (zm_ followed by a letter; never zm__ internals).
exported=$(nm -D --defined-only "$shared" | awk 'NF >= 3 { print $NF }' |
  grep -Ev "$instrumentation" || true)
[ -n "$exported" ] || fail "$shared exports nothing"
bad=$(printf '%s\n' "$exported" | grep -Ev '^zm_[a-z0-9]' || true)
[ -z "$bad" ] || fail "$shared exports names outside zm_: $(echo $bad)"

# The contract of DESIGN.md: each name is exported.
for name in zm_malloc zm_calloc zm_realloc zm_reallocarray zm_aligned_alloc \
  zm_strdup zm_strndup zm_memdup zm_free zm_free_sized zm_usable_size \
  zm_try_malloc zm_try_calloc zm_try_realloc zm_set_backend \
  zm_set_mem_functions zm_get_backend zm_set_oom_handler zm_used_memory \
  zm_peak_memory zm_reset_peak zm_get_stats zm_version zm_set_layout; do
  printf '%s\n' "$exported" | grep -qx "$name" || fail "$shared lacks $name"
done

# Static: every global symbol carries the prefix (zm_ public, zm__ internal).
globals=$(nm --defined-only -g "$static" | awk 'NF >= 3 { print $NF }' |
  grep -Ev "$instrumentation" || true)
[ -n "$globals" ] || fail "$static defines no global symbols"
bad=$(printf '%s\n' "$globals" | grep -Ev '^zm_' || true)
[ -z "$bad" ] || fail "$static has globals outside zm_: $(echo $bad)"

# SONAME = libzmem.so.MAJOR
soname=$(readelf -d "$shared" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
[ "$soname" = "libzmem.so.$major" ] ||
  fail "SONAME is '$soname', expected libzmem.so.$major"

[ $status -eq 0 ] && echo "symbols: $(printf '%s\n' "$exported" | wc -l) exported, SONAME $soname"
exit $status
