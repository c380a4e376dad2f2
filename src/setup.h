/* Set-up state, at the bottom of the library: the set-up lock, the frozen
 * flag and the mode word. Every module may read them; the layout module
 * (layout.c) fixes the layout at the first allocation, limits set and clear
 * their flag, the backend and options check the frozen flag under the lock.
 * This module calls nothing above it. */
#ifndef ZM_SETUP_H
#define ZM_SETUP_H

#include "internal.h"
#include "zmem.h"

#include <stdatomic.h>

/* The mode word: the layout in its low bits (0 until the first allocation
 * fixes it; never changes afterwards) and flags that send every call through
 * the general path. The fast path is taken only when the word is exactly
 * ZM_LAYOUT_LEAN: one load and one compare, which also says that the
 * built-in allocator is in force (so the fast path calls it directly). The
 * header layout's fast path (with or without tags) likewise needs the word
 * to be exactly ZM_LAYOUT_HEADER, with or without ZM__MODE_TAGS. */
enum {
  ZM__MODE_LAYOUT = 3,        /* mask: 0 or a zm_layout */
  ZM__MODE_TAGS = 4,          /* tags on (header layout) */
  ZM__MODE_LIMITS = 8,        /* some limit is set */
  ZM__MODE_FAULT = 16,        /* fault injection is armed (fault.c) */
  ZM__MODE_USER_BACKEND = 32, /* a backend from zm_set_backend */
  ZM__MODE_SOFT = 64,         /* a soft limit is set (limits.c): no reserves */
  ZM__MODE_MEMCHECK = 128,    /* header layout under memcheck (layout.c) */
};
extern zm__hidden _Atomic int zm__mode;

/* Sets or clears ZM__MODE_LIMITS; any time, from any thread. */
void zm__mode_set_limits(bool on);
/* Sets or clears one flag of the mode word; any time, from any thread. */
void zm__mode_set_flag(int flag, bool on);

/* The set-up lock serialises set-up calls with the first allocation. */
void zm__setup_lock(void);
void zm__setup_unlock(void);
/* True once the layout is fixed; call with the set-up lock held. */
bool zm__setup_frozen(void);

/* The layout asked for (zm_set_layout, the layout= option, tags, debug); 0
 * when none was. Read and written with the set-up lock held: the backend
 * checks it too (a backend without a size query cannot serve an explicit
 * lean request). */
extern zm__hidden zm_layout zm__layout_wanted;

#endif
