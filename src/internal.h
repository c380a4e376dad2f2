/* Internal conventions shared by every module: build constants, branch hints.
 * Nothing here is public; non-static internal names start with zm__. */
#ifndef ZM_INTERNAL_H
#define ZM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define zm__likely(x) __builtin_expect(!!(x), 1)
#define zm__unlikely(x) __builtin_expect(!!(x), 0)
#define zm__noinline __attribute__((noinline))
#define zm__cold __attribute__((cold, noinline))
/* On declarations of internal data the hot path reads: -fvisibility=hidden
 * covers definitions only, and without this a declaration is read through
 * the GOT (one more load per access in the position-independent code). */
#define zm__hidden __attribute__((visibility("hidden")))
/* For the hot path's helpers: inlined whatever the compiler's size budget. */
#define zm__hot_inline inline __attribute__((always_inline))
/* Runs when the library is loaded, before the program's threads exist. */
#define zm__at_load __attribute__((constructor))

#ifndef ZMEM_REPLACEMENT
#define ZMEM_REPLACEMENT 1
#endif
#ifndef ZMEM_DEBUG_ASSERT
#define ZMEM_DEBUG_ASSERT 0
#endif

/* Build options as constants, so that both branches always compile. */
static const bool zm__replacement = ZMEM_REPLACEMENT;
static const bool zm__debug_assert = ZMEM_DEBUG_ASSERT;

/* What the front-end counts, one counter each (see zm_stats). */
/* The hottest two first: they share a cache line with the byte counters. */
typedef enum zm__call {
  ZM__CALL_MALLOC,
  ZM__CALL_FREE,
  ZM__CALL_CALLOC,
  ZM__CALL_REALLOC,
  ZM__CALL_ALIGNED,
  ZM__CALL_FAILURE,
  ZM__CALL_MOVED,
  ZM__NCALLS
} zm__call;

#endif
