/* Accounting: per-thread counters that only their owner writes.
 *
 * A counter set (zm__cset) is one thread's share of one total: the global
 * total lives in each thread's TLS slot, each tag's in the thread's tag array.
 * The owner updates its sets with relaxed load + store (plain moves on x86-64,
 * no locked instruction); readers add up the sets of the live threads under
 * the registry lock, plus what exited threads folded into the shared part
 * (zm__cshared) of the total. A slot is linked into the registry on the
 * thread's first allocation and folded out when the thread exits.
 *
 * The peak needs the global sum at every moment, which per-thread counters do
 * not give for free. Each set keeps the bytes it has not yet published; once
 * they pass ZM_PEAK_GRANULE either way they are added to the shared total P
 * (one atomic add per granule), and the peak is raised to the new P. So P is
 * always within ZM_PEAK_GRANULE per live thread of the exact sum. A thread
 * also records in its own set the candidate P + its unpublished bytes
 * whenever its own bytes reach a new high (since the last reset): with one
 * thread that is the exact sum at each of its highs, so the peak is exact;
 * with more, the candidates and publishes miss at most the unpublished bytes
 * of each live thread, ZM_PEAK_GRANULE per thread. The peak is the largest
 * candidate since the last reset. Each candidate carries the epoch (a count
 * of resets) it was recorded in, 64 bits wide so that an old candidate can
 * never become current again.
 *
 * The window. For the global total (the fast path), a thread does none of
 * that per call. Its slot holds a window [lo, lo + span] of its own byte
 * count: at or below its own high since the last reset and within a granule
 * of its last publish. A call whose new count stays inside takes three plain
 * updates and one compare; leaving the window (a new high, a granule
 * crossed, a reset) takes zm__count_slow, which publishes, records the
 * candidate and sets a new window. A thread without a slot of its own
 * (before its first count, after its exit hook) points at zm__shut_slot,
 * whose window admits no count, so the fast path needs no test for it.
 * Each thread's set for a root tag has a window of its own, kept the same
 * way (zm__tagset, tags.h). */
#ifndef ZM_STATS_H
#define ZM_STATS_H

#include "internal.h"
#include "zmem.h"

#include <stdatomic.h>

/* One thread's share of one total. */
typedef struct zm__cset {
  _Atomic int64_t bytes;       /* net bytes */
  _Atomic int64_t blocks;      /* net blocks */
  _Atomic int64_t candidate;   /* peak candidate, of epoch cand_epoch */
  _Atomic uint64_t cand_epoch; /* stored after candidate, with release */
  int64_t unpublished;         /* owner only: bytes not yet in P */
} zm__cset;

/* The shared part of one total: read on every allocation, written once per
 * granule and by exiting threads, so it has its own line. */
typedef struct zm__cshared {
  _Alignas(64) _Atomic int64_t published; /* P */
  _Atomic int64_t folded_bytes;           /* from exited threads */
  _Atomic int64_t folded_blocks;
  _Atomic int64_t peak;                   /* raised by publishes and exits */
} zm__cshared;

/* Owner-only bookkeeping of a windowed set: its bytes at its last publish
 * (base), and its highest bytes for which it recorded a candidate (top, in
 * epoch top_epoch). */
typedef struct zm__wmark {
  int64_t base, top;
  uint64_t top_epoch;
} zm__wmark;

/* No count is this low: a window starting here admits no call. */
#define ZM__WINDOW_SHUT INT64_MIN

/* One thread's counters for one tag, windowed like the total (see the top
 * of this file): a count that stays inside [lo, lo + span] is three plain
 * updates, the fast path's (tags.h). Only root tags (depth 1) ever open
 * their window; a nested tag's stays shut, so that every count of it takes
 * the general path, which counts its whole chain. 128 bytes, so that a set
 * is found with a shift; the fast path touches the first line only. */
typedef struct zm__tagset {
  _Alignas(128) _Atomic int64_t lo; /* window start; shut when mapped */
  uint64_t span;                    /* owner only: window width */
  zm__cset c; /* unpublished: brought up to date before a publish or fold */
  _Atomic uint64_t calls, failures;
  zm__wmark mark;
} zm__tagset;

_Static_assert(sizeof(zm__tagset) == 128, "a tag's set is found by a shift");
_Static_assert(offsetof(zm__tagset, calls) + sizeof(uint64_t) <= 64,
               "the fast path touches only a tag set's first line");

/* One thread's counters. Slots live in memory zmem maps itself, never in
 * the thread's TLS: a thread that exits without its exit hook running (its
 * first zmem call came in the last round of key destructors) leaves its
 * slot registered, and readers keep summing it, exactly, instead of reading
 * TLS that the C library has handed to another thread. */
typedef struct zm__slot {
  /* The fast path touches lo, span, total.bytes, total.blocks, calls. */
  _Alignas(64) _Atomic int64_t lo; /* window start; zm_reset_peak shuts it */
  uint64_t span;                   /* owner only: window width */
  zm__cset total; /* unpublished: bytes - base, brought up to date in the
                   * slow path and before a fold */
  _Atomic uint64_t calls[ZM__NCALLS];
  zm__wmark mark; /* owner only */
  /* ZM_TAG_MAX sets, mapped on the thread's first tagged call; published
   * with release because readers walk other threads' slots. */
  zm__tagset *_Atomic tags;
  struct zm__slot *next, *prev;
} zm__slot;

/* lo, span, bytes, blocks and the malloc counter share the first line; the
 * free counter starts the second (a wider zm__cset would not fit both). */
_Static_assert(offsetof(zm__slot, calls) + 2 * sizeof(uint64_t) <= 128,
               "the fast path touches only the slot's first two lines");

extern zm__hidden zm__cshared zm__total;
extern zm__hidden _Atomic uint64_t zm__peak_epoch; /* bumped by zm_reset_peak */

/* The calling thread's slot; zm__shut_slot before its first count, and
 * again once its exit hook has run (it then counts into the shared totals).
 * zm__shut_slot is never written: its window is shut, so every call of such
 * a thread takes zm__count_slow. */
extern zm__hidden __thread zm__slot *zm__my_slot __attribute__((tls_model("initial-exec")));
extern zm__hidden zm__slot zm__shut_slot;


void zm__stats_init(void);

/* What the accounting does to a per-tag extension of the counters (tags.c,
 * registered at set-up by wiring.c, so that stats.c needs no tags header).
 * Each call happens with the registry lock held, except reset_peaks. */
typedef struct zm__stats_tag_hooks {
  void (*shut_windows)(zm__slot *s); /* zm_reset_peak */
  void (*fold)(zm__slot *s);         /* thread exit: into the shared totals */
  void (*release)(zm__slot *s);      /* thread exit, after fold */
  void (*reset_peaks)(void);         /* zm_reset_peak, after the totals */
} zm__stats_tag_hooks;
/* Registers the hooks; the same table each time (any thread, any time). No
 * tag counters exist before the first allocation, so none are missed. */
void zm__stats_set_tag_hooks(const zm__stats_tag_hooks *h);
zm__hidden void *zm__count_slow_p(void *p, int64_t bytes, int64_t blocks,
                                  zm__call call);
void zm__publish(zm__cset *c, zm__cshared *sh);

/* After a count that left a window (its new bytes b already stored in c):
 * publishes when due, records a candidate at a new high, and, when `open`,
 * opens the window again around b. lo0 and e are the window start and the
 * peak epoch read before the count (a reset since then keeps it shut). */
void zm__window_left(_Atomic int64_t *lo, uint64_t *span, zm__cset *c,
                     zm__wmark *m, zm__cshared *sh, int64_t b, int64_t lo0,
                     uint64_t e, bool open);

static inline void zm__relaxed_add(_Atomic int64_t *c, int64_t v) {
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
                        memory_order_relaxed);
}

static inline void zm__relaxed_inc(_Atomic uint64_t *c) {
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                        memory_order_relaxed);
}

/* The owner writes the candidate before its epoch (release); a reader that
 * sees the current epoch (acquire) then sees that candidate or a later one
 * of the same epoch. An owner's epochs only grow, so a reader never pairs a
 * current epoch with an older epoch's candidate. */
static zm__hot_inline void zm__note_peak(zm__cset *c, const zm__cshared *sh,
                                 int64_t unpublished) {
  int64_t v = atomic_load_explicit(&sh->published, memory_order_relaxed) +
              unpublished;
  uint64_t e = atomic_load_explicit(&zm__peak_epoch, memory_order_relaxed);
  if (atomic_load_explicit(&c->cand_epoch, memory_order_relaxed) != e) {
    atomic_store_explicit(&c->candidate, v, memory_order_relaxed);
    atomic_store_explicit(&c->cand_epoch, e, memory_order_release);
  } else if (v > atomic_load_explicit(&c->candidate, memory_order_relaxed)) {
    atomic_store_explicit(&c->candidate, v, memory_order_relaxed);
  }
}

/* Counts one call that changed the live bytes and blocks by the given
 * amounts, and returns p (so that an allocation's slow path is a tail call
 * and p need not be kept across it). The hot path: three plain updates and
 * the window compare. */
static zm__hot_inline void *zm__count_p(void *p, int64_t bytes, int64_t blocks,
                                zm__call call) {
  zm__slot *s = zm__my_slot;
  int64_t b = atomic_load_explicit(&s->total.bytes, memory_order_relaxed) +
              bytes;
  uint64_t off =
      (uint64_t)b -
      (uint64_t)atomic_load_explicit(&s->lo, memory_order_relaxed);
  if (zm__unlikely(off > s->span))
    return zm__count_slow_p(p, bytes, blocks, call);
  atomic_store_explicit(&s->total.bytes, b, memory_order_relaxed);
  zm__relaxed_add(&s->total.blocks, blocks);
  zm__relaxed_inc(&s->calls[call]);
  return p;
}

static inline void zm__count(int64_t bytes, int64_t blocks, zm__call call) {
  (void)zm__count_p(NULL, bytes, blocks, call);
}

/* The calling thread's own slot, NULL if it has none (see zm__my_slot). */
static inline zm__slot *zm__own_slot(void) {
  zm__slot *s = zm__my_slot;
  return s == &zm__shut_slot ? NULL : s;
}

/* Counts a call that changed nothing but its own counter (a failure). */
static inline void zm__count_call(zm__call call) { zm__count(0, 0, call); }

/* ------------------------------------------------ readers, for modules */

/* A total summed over the live threads and the exited ones. */
typedef struct zm__sum {
  int64_t bytes, blocks, peak;
} zm__sum;

/* Sums sh and, for each live thread, the set that pick returns (NULL: the
 * thread has none). Takes the registry lock. */
void zm__sum_sets(const zm__cshared *sh, zm__cset *(*pick)(zm__slot *, void *),
                  void *arg, zm__sum *out);

/* Fills in zm_get_stats's counters: used, peak, live blocks, calls. */
void zm__stats_counts(zm_stats *st);

/* Blocks allocated and not yet freed (zm_get_stats's live_blocks). */
size_t zm__live_blocks(void);

/* Runs fn(slot, arg) for each live thread under the registry lock. */
void zm__each_slot(void (*fn)(zm__slot *, void *), void *arg);

/* c's candidate if it belongs to the current epoch, else 0. */
int64_t zm__current_candidate(zm__cset *c);
void zm__raise_peak(zm__cshared *sh, int64_t v);
/* Adds to a shared total directly: for threads past their exit hook. */
void zm__shared_add(zm__cshared *sh, int64_t bytes, int64_t blocks);
/* Moves a thread's set into the shared total (thread exit). */
void zm__fold_set(zm__cset *c, zm__cshared *sh);

#endif
