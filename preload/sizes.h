/* The live blocks: each one's requested size (the lean layout stores none)
 * and, when the run records allocation sites, the stack-table entry it was
 * counted in. Thread-safe (a block's put and remove ordered by the
 * program's hand-over of the pointer); never calls malloc (tables come
 * from mmap). */
#ifndef ZMP_SIZES_H
#define ZMP_SIZES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A block's site: its stack-table entry and the weights its allocation
 * added there (1 and its size, or a sampled estimate), so that the free
 * subtracts exactly that. count 0: the block has no site. */
typedef struct zmp_site {
  uint32_t entry; /* stack-table index (UINT32_MAX: the overflow entry) */
  uint32_t count; /* blocks the allocation stands for, at least 1 */
  uint64_t bytes; /* bytes the allocation stands for */
} zmp_site;

/* Remembers that p, whose usable size is held, was requested with
 * `requested` bytes, and its site (NULL or count 0: none); replaces an old
 * entry. A usable size below the request (an allocator's query that
 * answers 0 for a block it does not know) is not believed: the block
 * holds its request, and keeps no site. True when the entry and the site were both stored. When no memory
 * is left for the table the entry is dropped (the free then finds the
 * block unseen, or counts it as requested = usable when its slack was too
 * wide for its cell), or only the site is (the caller leaves the block out
 * of the stack table). Blocks start 16 bytes apart at least. */
static inline bool zmp_sizes_put(const void *p, size_t requested, size_t held,
                                 const zmp_site *site);

/* The slack of a block whose slack was too large to keep (the entry's
 * 20-bit field, all ones): it counts as requested = usable. */
#define ZMP_SLACK_UNKNOWN (((size_t)1 << 20) - 1)
/* What zmp_sizes_remove returns for a block it has no entry for. */
#define ZMP_UNSEEN SIZE_MAX
/* What it returns, plus the difference, for a block whose usable size
 * was that much below its request when it was put. */
#define ZMP_SLACK_BELOW ((size_t)1 << 62)

/* Removes p's entry and returns its slack (usable minus requested bytes,
 * ZMP_SLACK_UNKNOWN, or ZMP_SLACK_BELOW plus requested minus usable);
 * ZMP_UNSEEN for a block zmem never saw (nothing
 * about p is read then). *site gets p's site (count 0: none). */
static inline size_t zmp_sizes_remove(const void *p, zmp_site *site);

/* The bytes a block whose allocator says usable bytes holds, given the
 * slack zmp_sizes_remove returned: never less than its request. */
static inline size_t zmp_sizes_held(size_t usable, size_t slack) {
  size_t below = slack - ZMP_SLACK_BELOW; /* ZMP_UNSEEN is not */
  return __builtin_expect(below < ZMP_SLACK_BELOW, 0) ? usable + below : usable;
}

/* The requested size of a block of held bytes (zmp_sizes_held) and that
 * slack. */
static inline size_t zmp_sizes_requested(size_t held, size_t slack) {
  return slack < ZMP_SLACK_UNKNOWN && slack <= held ? held - slack : held;
}

/* zmp_sizes_remove, then p's requested size given its usable size (that
 * size itself when p has no entry). */
size_t zmp_sizes_take(const void *p, size_t held, zmp_site *site);

/* Reports the highest number of bytes the table has mapped (the entries
 * and the site arrays) to *out from now on, starting from what is mapped
 * now; NULL: nowhere. */
void zmp_sizes_report_to(uint64_t *out);

/* Around fork: take every lock, release them in both processes. In a fork
 * child the sites are forgotten (they belong to the parent's stack table);
 * the requested sizes stay. */
void zmp_sizes_prepare_fork(void);
void zmp_sizes_after_fork(bool child);

/* ------------------------------------------------- the inline common paths
 * The shadow map (sizes.c says how it is laid out): a put stores the
 * block's cell, a remove loads and clears it; whatever calls something
 * (a leaf to map, a site) is left to sizes.c. */

#define ZMP_CELL_LIVE ((uint16_t)1 << 15)
#define ZMP_CELL_SITE ((uint16_t)1 << 14) /* the site is in the side table */
#define ZMP_CELL_WIDE ((uint16_t)0x3fff)  /* the slack is in the side table */
#define ZMP_LEAF_BITS 12 /* cells per leaf: 64 KiB of address */
#define ZMP_MID_BITS 14  /* leaves per middle array: 1 GiB of address */
#define ZMP_TOP_BITS 17  /* middle arrays: the rest of the 43-bit key */

typedef _Atomic uint16_t zmp_cell;
typedef zmp_cell *_Atomic zmp_leaf_ref;
extern __attribute__((visibility("hidden"))) zmp_leaf_ref *_Atomic
    zmp__top[(size_t)1 << ZMP_TOP_BITS];

bool zmp__sizes_put_rare(zmp_cell *at, uint64_t k, size_t requested, size_t held,
                         const zmp_site *site);
size_t zmp__sizes_take_rare(uint64_t k, zmp_site *site);

/* Whether p lies in the 47-bit user address space the map covers. */
static inline bool zmp__in_map(const void *p) { return !((uintptr_t)p >> 47); }

/* Whether a cell sends its block to the side table (a site, or a slack
 * too wide for the cell). */
static inline bool zmp__cell_aside(uint16_t c) {
  return (c & (uint16_t)~ZMP_CELL_LIVE) >= ZMP_CELL_WIDE;
}

/* Key k's cell (k: the address / 16), or NULL when its leaf is not mapped. */
static inline zmp_cell *zmp__cell_of(uint64_t k) {
  zmp_leaf_ref *mid = atomic_load_explicit(&zmp__top[k >> (ZMP_LEAF_BITS + ZMP_MID_BITS)],
                                           memory_order_acquire);
  if (__builtin_expect(!mid, 0))
    return NULL;
  zmp_cell *leaf = atomic_load_explicit(
      &mid[(k >> ZMP_LEAF_BITS) & (((uint64_t)1 << ZMP_MID_BITS) - 1)], memory_order_acquire);
  if (__builtin_expect(!leaf, 0))
    return NULL;
  return &leaf[k & (((uint64_t)1 << ZMP_LEAF_BITS) - 1)];
}

static inline bool zmp_sizes_put(const void *p, size_t requested, size_t held,
                                 const zmp_site *site) {
  if (!zmp__in_map(p))
    return false; /* unseen when freed */
  uint64_t k = (uintptr_t)p >> 4;
  size_t slack = held - requested;
  zmp_cell *at = zmp__cell_of(k);
  if (__builtin_expect(!at || slack >= ZMP_CELL_WIDE || (site && site->count) ||
                           zmp__cell_aside(atomic_load_explicit(at, memory_order_relaxed)),
                       0))
    return zmp__sizes_put_rare(at, k, requested, held, site);
  atomic_store_explicit(at, (uint16_t)(ZMP_CELL_LIVE | slack), memory_order_relaxed);
  return true;
}

static inline size_t zmp_sizes_remove(const void *p, zmp_site *site) {
  site->count = 0;
  zmp_cell *at = zmp__in_map(p) ? zmp__cell_of((uintptr_t)p >> 4) : NULL;
  uint16_t c = at ? atomic_load_explicit(at, memory_order_relaxed) : 0;
  if (__builtin_expect(!c, 0))
    return ZMP_UNSEEN;
  atomic_store_explicit(at, 0, memory_order_relaxed);
  if (__builtin_expect(zmp__cell_aside(c), 0))
    return zmp__sizes_take_rare((uintptr_t)p >> 4, site);
  return c & ZMP_CELL_WIDE;
}

#endif
