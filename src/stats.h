/* Accounting: per-thread counters that only their owner writes.
 *
 * Each thread owns a cache-line aligned slot in its TLS. The owner updates it
 * with relaxed load + store (plain moves on x86-64, no locked instruction);
 * readers sum the slots of the live threads under the registry lock, plus the
 * totals folded in by threads that have exited. A slot is linked into the
 * registry on the thread's first allocation and folded out when it exits.
 *
 * The peak needs the global sum at every moment, which per-thread counters do
 * not give for free. Each thread keeps the bytes it has not yet published; once
 * they pass ZM_PEAK_GRANULE either way it adds them to a shared total (one
 * atomic add per granule). So the shared total P is always within
 * ZM_PEAK_GRANULE per live thread of the exact sum. On each allocation the
 * thread also records, in its own slot, the candidate P + its unpublished
 * bytes (two relaxed loads of a read-mostly line, no read-modify-write). That
 * candidate differs from the exact sum by at most the other threads'
 * unpublished bytes: it is exact with one thread, and off by at most
 * ZM_PEAK_GRANULE per other live thread. The peak is the largest candidate
 * since the last reset, whose epoch is kept in the candidate's top bits. */
#ifndef ZM_STATS_H
#define ZM_STATS_H

#include "internal.h"
#include "zmem.h"

#include <stdatomic.h>

enum { ZM__SLOT_NEW, ZM__SLOT_LINKED, ZM__SLOT_DEAD };

typedef struct zm__slot {
  _Alignas(64) _Atomic int64_t bytes; /* net bytes this thread added */
  _Atomic int64_t blocks;             /* net blocks */
  _Atomic uint64_t calls[ZM__NCALLS];
  _Atomic uint64_t candidate; /* epoch << 48 | peak candidate, see above */
  int64_t unpublished; /* owner only: bytes not yet in the shared total */
  int64_t noted;       /* owner only: candidate's value and epoch, unpacked */
  uint64_t noted_epoch;
  int state;           /* owner only, but for the exit fold */
  struct zm__slot *next, *prev;
} zm__slot;

/* Read on every allocation, written once per granule: its own line. */
typedef struct zm__peak_shared {
  _Alignas(64) _Atomic int64_t published; /* the shared total P */
  _Atomic uint64_t epoch;                 /* bumped by zm_reset_peak */
} zm__peak_shared;
extern zm__peak_shared zm__peak;

#define ZM__EPOCH_SHIFT 48
#define ZM__CANDIDATE_MASK (((uint64_t)1 << ZM__EPOCH_SHIFT) - 1)

extern __thread zm__slot zm__my_slot __attribute__((tls_model("initial-exec")));

void zm__stats_init(void);
void zm__count_slow(int64_t bytes, int64_t blocks, zm__call call);
void zm__publish(zm__slot *s);

static inline void zm__relaxed_add(_Atomic int64_t *c, int64_t v) {
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
                        memory_order_relaxed);
}

static inline void zm__relaxed_inc(_Atomic uint64_t *c) {
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                        memory_order_relaxed);
}

/* Raises the candidate to P + unpublished (or restarts it in a new epoch).
 * The owner's unpacked copy keeps the usual case, no new high, to two loads
 * of the read-mostly shared line and two compares. */
static inline void zm__note_peak(zm__slot *s, int64_t unpublished) {
  int64_t c = atomic_load_explicit(&zm__peak.published, memory_order_relaxed) +
              unpublished;
  uint64_t e = atomic_load_explicit(&zm__peak.epoch, memory_order_relaxed);
  if (zm__likely(c <= s->noted && e == s->noted_epoch))
    return;
  uint64_t v = (uint64_t)(c > 0 ? c : 0) & ZM__CANDIDATE_MASK;
  s->noted = (int64_t)v;
  s->noted_epoch = e;
  atomic_store_explicit(&s->candidate, e << ZM__EPOCH_SHIFT | v,
                        memory_order_relaxed);
}

/* Counts one call that changed the live bytes and blocks by the given
 * amounts. The hot path: a handful of plain loads and stores. */
static inline void zm__count(int64_t bytes, int64_t blocks, zm__call call) {
  zm__slot *s = &zm__my_slot;
  if (zm__unlikely(s->state != ZM__SLOT_LINKED)) {
    zm__count_slow(bytes, blocks, call);
    return;
  }
  zm__relaxed_add(&s->bytes, bytes);
  zm__relaxed_add(&s->blocks, blocks);
  zm__relaxed_inc(&s->calls[call]);
  int64_t u = s->unpublished + bytes;
  s->unpublished = u;
  if (zm__unlikely((uint64_t)(u + (int64_t)ZM_PEAK_GRANULE) >
                   2 * (uint64_t)ZM_PEAK_GRANULE))
    zm__publish(s);
  else if (bytes > 0)
    zm__note_peak(s, u);
}

/* Counts a call that changed nothing but its own counter (a failure). */
static inline void zm__count_call(zm__call call) { zm__count(0, 0, call); }

#endif
