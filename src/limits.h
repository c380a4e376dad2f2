/* Hard and soft limits. While any limit is set, the mode word carries
 * ZM__MODE_LIMITS, and a shared counter per limit (the global one and one
 * per limited tag in the block's chain) holds what is charged to it. With
 * the global hard limit alone in the lean layout, allocations and frees
 * take a fast path that charges the thread's reserve (below); otherwise
 * they go through the general path, which charges the counters call by
 * call. With no limit set none of this runs. */
#ifndef ZM_LIMITS_H
#define ZM_LIMITS_H

#include "internal.h"
#include "zmem.h"

#include <stdatomic.h>

/* False when a request of about `bytes` would already exceed a limit, so the
 * backend need not be asked. Changes nothing. */
bool zm__limit_admit(size_t bytes, zm_tag tag);

/* Charges bytes to every limit of tag's chain and the global ones; false,
 * with nothing charged, if that would exceed a hard limit. Runs the soft
 * limit callback on an upward crossing. */
bool zm__limit_charge(size_t bytes, zm_tag tag);

/* Gives back bytes (a free), or charges a realloc's change without a check. */
void zm__limit_adjust(int64_t delta, zm_tag tag);

/* The per-thread reserve. While the only limit is the global hard one, the
 * lean layout's allocations and frees do not charge the shared counter one
 * by one: each thread charges it in steps (ZM__RESERVE bytes beyond what a
 * call needs) and admits its calls from what it took, its reserve. The
 * shared counter holds the charged blocks plus every reserve, so the bytes
 * in use never exceed the limit. Near the limit a thread takes only what a
 * call needs; a refused call asks every other thread to give its reserve
 * back on its next call; a thread's own reserve always counts towards its
 * own requests. So a request is refused only if the bytes in use plus the
 * request plus the reserves of other threads (at most 2 * ZM__RESERVE each,
 * see zm_set_limit) exceed the limit: never in a program with one thread.
 * Thread exit and fork give reserves back (a thread whose first zmem call
 * comes after its exit hooks have run keeps its reserve charged). The
 * general path (realloc, aligned allocation) gives the thread's own reserve
 * back before it refuses. */
#define ZM__RESERVE ((int64_t)32 * 1024)

typedef struct zm__reserve {
  int64_t left; /* bytes charged and not yet used */
  uint64_t gen; /* the zm__reserve_gen it was taken in */
} zm__reserve;
extern zm__hidden __thread zm__reserve zm__my_reserve
    __attribute__((tls_model("initial-exec")));
/* High 32 bits: bumped when the counter is set anew (a reserve of an older
 * value is void); low 32 bits: bumped to ask every thread to give its
 * reserve back. */
extern zm__hidden _Atomic uint64_t zm__reserve_gen;
/* True while reserves are in use (a hard limit and no soft limit). */
extern zm__hidden _Atomic bool zm__reserve_on;

zm__hidden bool zm__reserve_refill(size_t n);
zm__hidden void zm__reserve_trim(void);
zm__hidden void zm__reserve_give_slow(size_t bytes);

static inline bool zm__reserve_valid(const zm__reserve *r) {
  return r->gen == atomic_load_explicit(&zm__reserve_gen, memory_order_relaxed);
}

/* Whether `bytes` would be admitted without charging the shared counter
 * (alloc.c then takes them from zm__my_reserve.left; otherwise
 * zm__reserve_refill(bytes) charges the counter, false if the limit
 * refuses). */
static inline bool zm__reserve_has(size_t bytes) {
  const zm__reserve *r = &zm__my_reserve;
  return zm__reserve_valid(r) && r->left >= (int64_t)bytes;
}

/* A free's bytes go to the thread's reserve; above 2 * ZM__RESERVE the
 * excess goes back to the shared counter. */
static inline void zm__reserve_give(size_t bytes) {
  zm__reserve *r = &zm__my_reserve;
  if (zm__unlikely(!zm__reserve_valid(r))) {
    zm__reserve_give_slow(bytes);
    return;
  }
  r->left += (int64_t)bytes;
  if (zm__unlikely(r->left > 2 * ZM__RESERVE))
    zm__reserve_trim();
}

/* Limits from ZMEM_OPTIONS: ceilings over the program's own (see zmem.h). */
void zm__set_limit_env(size_t bytes);
void zm__set_soft_limit_env(size_t bytes);

/* A tag's hard limit, 0 for none. */
size_t zm__tag_limit(zm_tag tag);

/* Whether any limit is set; read when the layout is fixed. */
bool zm__limits_active(void);

#endif
