/* The accounting designs zmem is measured against, written here from their
 * descriptions (no code taken from Redis). Each wraps the raw allocator of
 * this build (raw.h) and keeps a used-memory figure that a reader can sum.
 *
 *  mx_*   the seed design (the original zmalloc): an 8-byte size prefix in
 *         front of every block, and one global counter under a pthread mutex,
 *         taken on every allocation and free. Counts request + prefix.
 *  ga_*   the later Redis design: one global counter updated with relaxed
 *         atomic read-modify-write (lock xadd), sizes from the allocator's
 *         usable-size query, no prefix.
 *  s16_*  the Redis 7.4 style: 16 cache-line padded slots; a thread takes the
 *         next index (mod 16) on its first call and updates its slot with a
 *         relaxed atomic read-modify-write; readers sum the slots. Sizes from
 *         the usable-size query.
 *  fl_*   not a design but a floor: the allocator plus its usable-size query
 *         and one plain add to a thread-local counter on each call. It is
 *         the least any exact lean accounting must do (nobody can read the
 *         total: no registry, no peak, no call counts), so raw -> floor is
 *         the cost of the size queries alone, and floor -> zm-lean is what
 *         zmem's front-end and accounting add on top.

 *  fz_*   the floor on zmem's own size source (src/builtin.h: the
 *         usable-size query, or jemalloc's per-thread byte counters): the
 *         allocator, the same size source zmem's lean fast path uses, and
 *         one plain thread-local add per call. floor-zm -> zm-lean is what
 *         zmem's features (peak, call counts, the mode switch, errno care)
 *         cost; zbench only (ZBENCH_SIZE_SOURCE), as it needs the static
 *         library's internals.
 *
 * Out-of-memory aborts in all of them (the benchmarks never run out). */
#ifndef ZBENCH_DESIGNS_H
#define ZBENCH_DESIGNS_H

#include "raw.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void *design_oom(size_t n) {
  fprintf(stderr, "zbench: out of memory (%zu bytes)\n", n);
  abort();
}

/* ------------------------------------------------- mutex + 8-byte prefix */

#define MX_PREFIX 8
static pthread_mutex_t mx_lock = PTHREAD_MUTEX_INITIALIZER;
static size_t mx_used;

static inline void mx_account(size_t add, size_t sub) {
  pthread_mutex_lock(&mx_lock);
  mx_used += add;
  mx_used -= sub;
  pthread_mutex_unlock(&mx_lock);
}

static inline void *mx_malloc(size_t n) {
  size_t *p = rb_malloc(n + MX_PREFIX);
  if (__builtin_expect(!p, 0))
    design_oom(n);
  *p = n;
  mx_account(n + MX_PREFIX, 0);
  return (char *)p + MX_PREFIX;
}

static inline void mx_free(void *ptr) {
  if (!ptr)
    return;
  size_t *p = (size_t *)((char *)ptr - MX_PREFIX);
  mx_account(0, *p + MX_PREFIX);
  rb_free(p);
}

static inline void *mx_realloc(void *ptr, size_t n) {
  if (!ptr)
    return mx_malloc(n);
  size_t *p = (size_t *)((char *)ptr - MX_PREFIX);
  size_t old = *p;
  size_t *q = rb_realloc(p, n + MX_PREFIX);
  if (__builtin_expect(!q, 0))
    design_oom(n);
  *q = n;
  mx_account(n, old);
  return (char *)q + MX_PREFIX;
}

static inline size_t mx_used_memory(void) {
  pthread_mutex_lock(&mx_lock);
  size_t u = mx_used;
  pthread_mutex_unlock(&mx_lock);
  return u;
}

/* --------------------------------------------------- global relaxed atomic */

static _Atomic int64_t ga_used;

static inline void ga_add(int64_t d) {
  atomic_fetch_add_explicit(&ga_used, d, memory_order_relaxed);
}

static inline void *ga_malloc(size_t n) {
  void *p = rb_malloc(n);
  if (__builtin_expect(!p, 0))
    design_oom(n);
  ga_add((int64_t)rb_usable(p));
  return p;
}

static inline void ga_free(void *p) {
  if (!p)
    return;
  ga_add(-(int64_t)rb_usable(p));
  rb_free(p);
}

static inline void *ga_realloc(void *p, size_t n) {
  if (!p)
    return ga_malloc(n);
  size_t old = rb_usable(p);
  void *q = rb_realloc(p, n);
  if (__builtin_expect(!q, 0))
    design_oom(n);
  ga_add((int64_t)rb_usable(q) - (int64_t)old);
  return q;
}

static inline size_t ga_used_memory(void) {
  return (size_t)atomic_load_explicit(&ga_used, memory_order_relaxed);
}

/* ------------------------------------------- 16 padded slots, atomic RMW */

#define S16_SLOTS 16
typedef struct s16_slot {
  _Alignas(64) _Atomic int64_t used;
} s16_slot;
static s16_slot s16_used[S16_SLOTS];
static _Atomic unsigned s16_threads;
static __thread int s16_index = -1;

static inline _Atomic int64_t *s16_my_slot(void) {
  if (__builtin_expect(s16_index < 0, 0))
    s16_index = (int)(atomic_fetch_add(&s16_threads, 1) % S16_SLOTS);
  return &s16_used[s16_index].used;
}

static inline void s16_add(int64_t d) {
  atomic_fetch_add_explicit(s16_my_slot(), d, memory_order_relaxed);
}

static inline void *s16_malloc(size_t n) {
  void *p = rb_malloc(n);
  if (__builtin_expect(!p, 0))
    design_oom(n);
  s16_add((int64_t)rb_usable(p));
  return p;
}

static inline void s16_free(void *p) {
  if (!p)
    return;
  s16_add(-(int64_t)rb_usable(p));
  rb_free(p);
}

static inline void *s16_realloc(void *p, size_t n) {
  if (!p)
    return s16_malloc(n);
  size_t old = rb_usable(p);
  void *q = rb_realloc(p, n);
  if (__builtin_expect(!q, 0))
    design_oom(n);
  s16_add((int64_t)rb_usable(q) - (int64_t)old);
  return q;
}

static inline size_t s16_used_memory(void) {
  int64_t sum = 0;
  for (int i = 0; i < S16_SLOTS; i++)
    sum += atomic_load_explicit(&s16_used[i].used, memory_order_relaxed);
  return (size_t)sum;
}

/* ----------------------------------------------- floor: thread-local add */

static __thread int64_t fl_used;

static inline void *fl_malloc(size_t n) {
  void *p = rb_malloc(n);
  if (__builtin_expect(!p, 0))
    design_oom(n);
  fl_used += (int64_t)rb_usable(p);
  return p;
}

static inline void fl_free(void *p) {
  if (!p)
    return;
  fl_used -= (int64_t)rb_usable(p);
  rb_free(p);
}

static inline void *fl_realloc(void *p, size_t n) {
  if (!p)
    return fl_malloc(n);
  size_t old = rb_usable(p);
  void *q = rb_realloc(p, n);
  if (__builtin_expect(!q, 0))
    design_oom(n);
  fl_used += (int64_t)rb_usable(q) - (int64_t)old;
  return q;
}

/* ------------------------------------- floor on zmem's size source */

#ifdef ZBENCH_SIZE_SOURCE
#include "builtin.h"

static __thread int64_t fz_used;

static inline void *fz_malloc(size_t n) {
  size_t bytes;
  void *p = bi_malloc_counted(n ? n : 1, false, &bytes);
  if (__builtin_expect(!p, 0))
    design_oom(n);
  fz_used += (int64_t)bytes;
  return p;
}

static inline void fz_free(void *p) {
  if (p)
    fz_used -= (int64_t)bi_free_counted(p);
}

static inline void fz_free_sized(void *p, size_t n) {
  if (p)
    fz_used -= (int64_t)bi_free_sized_counted(p, n ? n : 1);
}

static inline void *fz_realloc(void *p, size_t n) {
  if (!p)
    return fz_malloc(n);
  int64_t delta;
  void *q = bi_realloc_counted(p, n, &delta);
  if (__builtin_expect(!q, 0))
    design_oom(n);
  fz_used += delta;
  return q;
}
#endif

#endif
