/* Block layouts and the one-time set-up that fixes the layout at the first
 * allocation. Lean blocks are the backend's pointers untouched; header blocks
 * carry a zm__header in front. */
#ifndef ZM_LAYOUT_H
#define ZM_LAYOUT_H

#include "internal.h"
#include "zmem.h"

#include <stdalign.h>
#include <stdatomic.h>

/* In front of every block of the header layout. offset16 is the distance, in
 * 16-byte units, from the backend's block to this header (non-zero only for
 * over-aligned blocks). The backend holds size + ZM_HEADER_SIZE + offset bytes
 * for the block, which is what is counted. */
typedef struct zm__header {
  size_t size;       /* usable bytes after the header */
  uint32_t offset16; /* backend block start = header - offset16 * 16 */
  uint32_t tag;      /* reserved for tags; 0 */
} zm__header;

_Static_assert(sizeof(zm__header) == ZM_HEADER_SIZE, "header is 16 bytes");
_Static_assert(ZM_HEADER_SIZE % alignof(max_align_t) == 0,
               "header keeps max_align_t alignment");

static inline zm__header *zm__hdr(const void *user) {
  return (zm__header *)((char *)user - ZM_HEADER_SIZE);
}
static inline void *zm__hdr_user(zm__header *h) {
  return (char *)h + ZM_HEADER_SIZE;
}
static inline void *zm__hdr_base(zm__header *h) {
  return (char *)h - (size_t)h->offset16 * 16;
}
static inline size_t zm__hdr_bytes(const zm__header *h) {
  return h->size + ZM_HEADER_SIZE + (size_t)h->offset16 * 16;
}

/* The mode word: the layout in its low bits (0 until the first allocation
 * fixes it; never changes afterwards) and flags that send every call through
 * the general path. The fast path is taken only when the word is exactly
 * ZM_LAYOUT_LEAN: one load and one compare. */
enum {
  ZM__MODE_LAYOUT = 3, /* mask: 0 or a zm_layout */
  /* the flags below send every call through the general path */
  ZM__MODE_TAGS = 4,   /* tags on (header layout) */
  ZM__MODE_LIMITS = 8, /* some limit is set */
  ZM__MODE_FAULT = 16, /* fault injection is armed (fault.c) */
};
extern _Atomic int zm__mode;

/* Fixes the layout and starts the accounting; returns the mode. */
int zm__freeze(void);

static inline int zm__mode_get(void) {
  int m = atomic_load_explicit(&zm__mode, memory_order_acquire);
  return zm__likely(m & ZM__MODE_LAYOUT) ? m : zm__freeze();
}

static inline int zm__layout(void) { return zm__mode_get() & ZM__MODE_LAYOUT; }

/* Sets or clears ZM__MODE_LIMITS; any time, from any thread. */
void zm__mode_set_limits(bool on);
/* Sets or clears one flag of the mode word; any time, from any thread. */
void zm__mode_set_flag(int flag, bool on);

/* The layout zm_get_stats reports: in force, or the one the next allocation
 * would fix. */
zm_layout zm__layout_report(void);

/* The set-up lock serialises set-up calls with the first allocation. */
void zm__setup_lock(void);
void zm__setup_unlock(void);
/* True once the layout is fixed; call with the set-up lock held. */
bool zm__setup_frozen(void);

/* zm_set_layout and zm_tags_enable, for callers that hold the set-up lock. */
int zm__request_layout_locked(zm_layout layout);
int zm__tags_enable_locked(void);
/* Whether zm_tags_enable would succeed now: tags on already, the layout not
 * fixed yet, or fixed as header. Set-up lock held. */
bool zm__tags_possible_locked(void);

/* Applies ZMEM_OPTIONS (options.c). Called once, by the first allocation,
 * with the set-up lock held and before the layout is chosen; must not
 * allocate. */
void zm__options_from_env(void);

#endif
