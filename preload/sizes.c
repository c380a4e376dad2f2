/* The live blocks, keyed by address: requested sizes and sites.
 *
 * The lean layout keeps nothing next to a block, and the allocator only
 * knows the usable size, so the bytes a program asked for are kept here,
 * in a shadow map: one 16-bit cell per 16 bytes of address (the C
 * library's blocks start 16 bytes apart at least, so a block owns the cell
 * of its address / 16). A cell holds a live bit and the block's slack,
 * usable minus requested bytes, when it is below 16 KiB - 1 (as it always
 * is for glibc's heap chunks and nearly always for its mapped ones). An
 * allocation stores its cell, a free loads and clears it: no lock, no
 * probe. The program's own hand-over of a pointer orders the two between
 * threads (relaxed atomics, so that the race detector agrees); a free of a
 * block whose cell is clear, a double free or a block zmem never saw, is
 * told apart without touching the block.
 *
 * The map has three levels, so that nothing large is reserved up front
 * (a flat map fails under RLIMIT_AS, strict overcommit and valgrind): a
 * static top array (1 MiB, only the pages written take memory), middle
 * arrays of pointers covering 1 GiB of address each (128 KiB), and leaves
 * of cells covering 64 KiB of address each (8 KiB), both mapped from mmap
 * on first use and installed with a compare-and-swap. Leaves are never
 * unmapped. Only the pages of a leaf that the heap touches become
 * resident: 2 bytes per 16 bytes of heap, at most 4 per live block (the
 * smallest block takes 32 bytes).
 *
 * A block whose slack is wider, or that has a site (when the run records
 * allocation sites: its stack-table entry and weights, 16 bytes), has its
 * cell say so, and its slack (in 20 bits: a wider one is stored as
 * SLACK_UNKNOWN, and the block counts as requested = usable) and site kept
 * in a side table: a hash table split into shards by address, each an
 * open-addressing table with linear probing and backward-shift deletion,
 * guarded by its own spin lock and grown by doubling into fresh pages from
 * mmap (never malloc). A slot costs 8 bytes, 24 with a site, at a load of
 * at most 2/3. A fork child unmaps the sites (the parent's are not its
 * own) and keeps the cells and slacks: an inherited block with a site then
 * finds none. */
#include "sizes.h"

#include <stdatomic.h>
#include <stdint.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>

#define SHARD_BITS 8
#define NSHARDS (1 << SHARD_BITS)
#define MIN_CAP 512 /* entries */

#define KEY_SHIFT 21
#define SITE_BIT ((uint64_t)1 << 20)
#define SLACK_UNKNOWN ((1u << 20) - 1)
/* The field of a block whose usable size was below its request: the
 * difference is in its value slot (a zmp_site of count 0, bytes the
 * difference). */
#define SLACK_BELOW (SLACK_UNKNOWN - 1)
_Static_assert(SLACK_UNKNOWN == ZMP_SLACK_UNKNOWN, "one value for an unknown slack");

typedef uint64_t entry; /* key << KEY_SHIFT | SITE_BIT? | slack; 0: empty */

typedef struct shard {
  _Alignas(64) atomic_flag lock;
  entry *tab;
  zmp_site *val; /* parallel to tab; NULL until the shard stores a site */
  size_t cap, count; /* cap: a power of two */
  size_t limit;      /* the count that makes the next put grow the table */
} shard;

static shard shards[NSHARDS];

/* The home slot keeps neighbouring blocks in neighbouring slots (the
 * allocator hands out nearby addresses one after another, so the table is
 * walked like the heap, not at random); 16 MiB regions of one shard are
 * spread apart by the multiplication. k is the address / 16. */
static inline size_t home(uint64_t k, size_t cap) {
  return (size_t)(k + (k >> 20) * 0x9e3779b97f4a7c15ULL) & (cap - 1);
}

/* A shard is a 64 KiB region of addresses, chosen by a hash of the
 * region's number: the C library gives each thread's arena a heap aligned
 * to 64 MiB, so the low bits of the region number repeat from one arena to
 * the next, and threads would contend for the same shards' locks. */
static inline shard *shard_of(uint64_t k) {
  return &shards[((k >> 12) * 0x9e3779b97f4a7c15ULL) >> (64 - SHARD_BITS)];
}

static inline uint64_t key_of(entry e) { return e >> KEY_SHIFT; }

static inline void spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/* Spins briefly, then yields: on a machine with more threads than cores the
 * holder may be descheduled, and spinning would waste the whole slice. */
__attribute__((noinline, cold)) static void lock_slow(shard *s) {
  for (unsigned n = 0;
       atomic_flag_test_and_set_explicit(&s->lock, memory_order_acquire); n++) {
    if (n < 64)
      spin_pause();
    else
      sched_yield();
  }
}

static inline void lock(shard *s) {
  if (__builtin_expect(atomic_flag_test_and_set_explicit(&s->lock, memory_order_acquire), 0))
    lock_slow(s);
}

static inline void unlock(shard *s) {
  atomic_flag_clear_explicit(&s->lock, memory_order_release);
}

/* The bytes the tables have mapped now, their highest value, and where
 * that highest value is reported (the process's record), if anywhere. */
static _Atomic size_t mapped, mapped_peak;
static uint64_t *_Atomic peak_out;

static void publish_peak(void) {
  uint64_t *out = atomic_load_explicit(&peak_out, memory_order_acquire);
  if (out)
    __atomic_store_n(out, (uint64_t)atomic_load(&mapped_peak), __ATOMIC_RELAXED);
}

static void *map_zeroed(size_t bytes) {
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return NULL;
  size_t now = atomic_fetch_add(&mapped, bytes) + bytes;
  size_t peak = atomic_load(&mapped_peak);
  while (now > peak && !atomic_compare_exchange_weak(&mapped_peak, &peak, now)) {
  }
  publish_peak();
  return p;
}

static void unmap(void *p, size_t bytes) {
  munmap(p, bytes);
  atomic_fetch_sub(&mapped, bytes);
}

void zmp_sizes_report_to(uint64_t *out) {
  atomic_store_explicit(&peak_out, out, memory_order_release);
  /* A fork child starts its own record from what it has mapped now. */
  atomic_store(&mapped_peak, atomic_load(&mapped));
  publish_peak();
}

/* The slot of key k in s: its entry, or the empty slot where it belongs. */
static inline size_t find(const shard *s, uint64_t k) {
  size_t i = home(k, s->cap);
  while (s->tab[i] && key_of(s->tab[i]) != k)
    i = (i + 1) & (s->cap - 1);
  return i;
}

/* Doubles s's table (and its value array); false when no memory is left
 * (the entry is dropped). */
__attribute__((noinline, cold)) static int grow(shard *s) {
  shard n = {.cap = s->cap ? s->cap * 2 : MIN_CAP};
  n.tab = map_zeroed(n.cap * sizeof(entry));
  if (!n.tab)
    return 0;
  if (s->val && !(n.val = map_zeroed(n.cap * sizeof(zmp_site)))) {
    unmap(n.tab, n.cap * sizeof(entry));
    return 0;
  }
  for (size_t i = 0; i < s->cap; i++)
    if (s->tab[i]) {
      size_t j = find(&n, key_of(s->tab[i]));
      n.tab[j] = s->tab[i];
      if (n.val)
        n.val[j] = s->val[i];
    }
  if (s->tab)
    unmap(s->tab, s->cap * sizeof(entry));
  if (s->val)
    unmap(s->val, s->cap * sizeof(zmp_site));
  s->tab = n.tab;
  s->val = n.val;
  s->cap = n.cap;
  s->limit = n.cap / 3 * 2; /* a load of at most 2/3 */
  return 1;
}

/* Maps s's value array for its first site; false when no memory is left. */
__attribute__((noinline, cold)) static int add_values(shard *s) {
  s->val = map_zeroed(s->cap * sizeof(zmp_site));
  return s->val != NULL;
}

/* Puts entry e of key k (and its site, when not NULL) into s, whose lock
 * the caller holds; releases it. False when no memory is left (nothing is
 * stored). */
static inline bool insert(shard *s, uint64_t k, entry e, const zmp_site *site) {
  if ((s->count >= s->limit && !grow(s)) || (site && !s->val && !add_values(s))) {
    unlock(s);
    return false;
  }
  size_t i = find(s, k);
  s->count += !s->tab[i];
  if (site)
    s->val[i] = *site;
  s->tab[i] = e;
  unlock(s);
  return true;
}

/* Stores block k's slack (20 bits) and site (NULL: none) aside; false
 * when no memory is left for them. */
static inline bool aside_put(uint64_t k, size_t slack, const zmp_site *site) {
  shard *s = shard_of(k);
  entry e = k << KEY_SHIFT | (site ? SITE_BIT : 0) |
            (slack < SLACK_BELOW ? slack : SLACK_UNKNOWN);
  lock(s);
  return insert(s, k, e, site);
}

/* Stores aside that block k's usable size is `deficit` bytes below its
 * request; false when no memory is left for it. */
static bool aside_put_below(uint64_t k, size_t deficit) {
  shard *s = shard_of(k);
  const zmp_site d = {.count = 0, .bytes = deficit};
  lock(s);
  return insert(s, k, k << KEY_SHIFT | SITE_BIT | SLACK_BELOW, &d);
}

/* Removes slot i, shifting back the entries after it that probed past it. */
static inline void erase(shard *s, size_t i) {
  size_t mask = s->cap - 1, j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (!s->tab[j])
      break;
    size_t h = home(key_of(s->tab[j]), s->cap);
    /* Move j into the hole at i unless its home lies in (i, j]. */
    if ((j > i && (h <= i || h > j)) || (j < i && h <= i && h > j)) {
      s->tab[i] = s->tab[j];
      if (s->val)
        s->val[i] = s->val[j];
      i = j;
    }
  }
  s->tab[i] = 0;
  s->count--;
}

/* Takes key k's entry out of s, whose lock the caller holds; releases it.
 * Its slack (and site), or ZMP_UNSEEN. */
static inline size_t take(shard *s, uint64_t k, zmp_site *site) {
  size_t slack = ZMP_UNSEEN;
  site->count = 0;
  if (s->cap) {
    size_t i = find(s, k);
    if (s->tab[i]) {
      slack = (size_t)(s->tab[i] & SLACK_UNKNOWN); /* == ZMP_SLACK_UNKNOWN */
      if (__builtin_expect((s->tab[i] & SITE_BIT) && s->val != NULL, 0))
        *site = s->val[i];
      erase(s, i);
    }
  }
  unlock(s);
  return slack;
}

/* Takes block k's entry out of the side table: its slack (ZMP_UNSEEN:
 * none) and its site (count 0: none). */
static inline size_t aside_take(uint64_t k, zmp_site *site) {
  shard *s = shard_of(k);
  lock(s);
  return take(s, k, site);
}

/* ------------------------------------------------------- the shadow map */

/* A cell: LIVE | slack below WIDE, or LIVE | WIDE (the slack is aside),
 * or LIVE | SITE | WIDE (the slack and the site are aside). 0: no live
 * block starts there. The common paths are in sizes.h. */
#define LIVE ZMP_CELL_LIVE
#define WIDE ZMP_CELL_WIDE
#define LEAF_BITS ZMP_LEAF_BITS
#define MID_BITS ZMP_MID_BITS
_Static_assert(ZMP_TOP_BITS == 64 - KEY_SHIFT - LEAF_BITS - MID_BITS,
               "a 43-bit key: address / 16 below 2^47");

typedef zmp_cell cell;
typedef zmp_leaf_ref leaf_ref;
leaf_ref *_Atomic zmp__top[(size_t)1 << ZMP_TOP_BITS];

static inline size_t top_index(uint64_t k) { return (size_t)(k >> (LEAF_BITS + MID_BITS)); }
static inline size_t mid_index(uint64_t k) {
  return (size_t)(k >> LEAF_BITS) & (((size_t)1 << MID_BITS) - 1);
}
static inline size_t cell_index(uint64_t k) {
  return (size_t)k & (((size_t)1 << LEAF_BITS) - 1);
}

/* Installs a zeroed mapping of bytes at *ref unless another thread did
 * first; what is there afterwards (NULL when no memory is left). */
static void *install(void *_Atomic *ref, size_t bytes) {
  void *fresh = map_zeroed(bytes), *seen = NULL;
  if (!fresh)
    return atomic_load_explicit(ref, memory_order_acquire);
  if (atomic_compare_exchange_strong_explicit(ref, &seen, fresh, memory_order_acq_rel,
                                              memory_order_acquire))
    return fresh;
  unmap(fresh, bytes);
  return seen;
}

/* Key k's cell, mapping its middle array and leaf as needed; NULL when
 * no memory is left. */
__attribute__((noinline, cold)) static cell *cell_mapped(uint64_t k) {
  void *_Atomic *mref = (void *_Atomic *)&zmp__top[top_index(k)];
  leaf_ref *mid = atomic_load_explicit(mref, memory_order_acquire);
  if (!mid && !(mid = install(mref, sizeof(leaf_ref) << MID_BITS)))
    return NULL;
  void *_Atomic *lref = (void *_Atomic *)&mid[mid_index(k)];
  cell *leaf = atomic_load_explicit(lref, memory_order_acquire);
  if (!leaf && !(leaf = install(lref, sizeof(cell) << LEAF_BITS)))
    return NULL;
  return &leaf[cell_index(k)];
}

/* A block whose usable size is `deficit` bytes below its request: the
 * difference aside (or, when no memory is left for it, the block counts
 * as requested = usable). */
static bool put_below(cell *at, uint64_t k, size_t deficit) {
  bool stored = aside_put_below(k, deficit);
  atomic_store_explicit(at, (uint16_t)(LIVE | WIDE | (stored ? ZMP_CELL_SITE : 0)),
                        memory_order_relaxed);
  return stored;
}

/* The puts that call something: a leaf to map, a slack or a site to put
 * aside, a usable size below the request, or a block that replaces a live
 * one whose entry is aside (the old one was freed past zmem), which is
 * dropped. */
bool zmp__sizes_put_rare(cell *at, uint64_t k, size_t requested, size_t held,
                         const zmp_site *site) {
  if (!at && !(at = cell_mapped(k)))
    return false;
  if (zmp__cell_aside(atomic_load_explicit(at, memory_order_relaxed))) {
    zmp_site old;
    aside_take(k, &old);
  }
  if (site && !site->count)
    site = NULL;
  if (held < requested) /* its site is not kept */
    return put_below(at, k, requested - held) && !site;
  size_t slack = held - requested;
  bool stored = true;
  uint16_t c = (uint16_t)(LIVE | (slack < WIDE ? slack : WIDE));
  if (site || slack >= WIDE) {
    stored = aside_put(k, slack, site);
    if (stored)
      c = (uint16_t)(LIVE | WIDE | (site ? ZMP_CELL_SITE : 0));
    /* Otherwise the site is not kept, nor a wide slack: the free finds
     * no entry aside and counts the block as requested = usable. */
  }
  atomic_store_explicit(at, c, memory_order_relaxed);
  return stored;
}

/* A freed block whose entry is aside: its slack and site. A fork child
 * has no value slots from its parent: a block below its request that it
 * inherited counts as requested = usable. */
size_t zmp__sizes_take_rare(uint64_t k, zmp_site *site) {
  site->bytes = 0;
  size_t slack = aside_take(k, site);
  if (slack == SLACK_BELOW) {
    size_t deficit = site->bytes;
    *site = (zmp_site){0};
    return deficit ? ZMP_SLACK_BELOW + deficit : SLACK_UNKNOWN;
  }
  return slack == ZMP_UNSEEN ? SLACK_UNKNOWN : slack;
}

size_t zmp_sizes_take(const void *p, size_t usable, zmp_site *site) {
  size_t slack = zmp_sizes_remove(p, site);
  return zmp_sizes_requested(zmp_sizes_held(usable, slack), slack);
}

void zmp_sizes_prepare_fork(void) {
  for (int i = 0; i < NSHARDS; i++)
    lock(&shards[i]);
}

void zmp_sizes_after_fork(bool child) {
  for (int i = NSHARDS - 1; i >= 0; i--) {
    shard *s = &shards[i];
    if (child && s->val) {
      unmap(s->val, s->cap * sizeof(zmp_site));
      s->val = NULL;
    }
    unlock(s);
  }
}
