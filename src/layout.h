/* Block layouts and the one-time set-up that fixes the layout at the first
 * allocation. Lean blocks are the backend's pointers untouched; header blocks
 * carry a zm__header in front. */
#ifndef ZM_LAYOUT_H
#define ZM_LAYOUT_H

#include "internal.h"
#include "setup.h"
#include "zmem.h"

#include <stdalign.h>

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

/* Fixes the layout and starts the accounting; returns the mode. The first
 * call runs apply_env (ZMEM_OPTIONS, handed down by the first-call path in
 * wiring.c) with the set-up lock held, before the layout is chosen. */
int zm__freeze(void (*apply_env)(void));

/* The fast path's test: lean, built-in backend, no tags, no limits, and the
 * layout fixed (a word of 0 is not ZM_LAYOUT_LEAN). */
static inline bool zm__mode_is_fast(void) {
  return atomic_load_explicit(&zm__mode, memory_order_acquire) ==
         ZM_LAYOUT_LEAN;
}

/* The layout zm_get_stats reports: in force, or the one the next allocation
 * would fix. */
zm_layout zm__layout_report(void);

/* zm_set_layout and zm_tags_enable, for callers that hold the set-up lock. */
int zm__request_layout_locked(zm_layout layout);
int zm__tags_enable_locked(void);
/* Whether zm_tags_enable would succeed now: tags on already, the layout not
 * fixed yet, or fixed as header. Set-up lock held. */
bool zm__tags_possible_locked(void);

#endif
