/* The live blocks, keyed by address: requested sizes and sites.
 *
 * The lean layout keeps nothing next to a block, and the allocator only
 * knows the usable size, so the bytes a program asked for are kept here: a
 * hash table split into shards by address, each an open-addressing table
 * with linear probing and backward-shift deletion, guarded by its own spin
 * lock and grown by doubling into fresh pages from mmap (never malloc).
 * Threads that touch different shards share no cache line.
 *
 * An entry is one 64-bit word: the address divided by 16 (43 bits cover
 * the 47-bit user address space of x86-64 and AArch64) and the block's
 * slack, usable minus requested bytes, in 20 bits, with one bit between
 * them that says the block has a site (below). A slack that does not fit
 * is stored as SLACK_UNKNOWN and the block counts as requested = usable.
 * So the table costs 8 bytes per live block at a load of at most 2/3:
 * 12 bytes per live block on average, 16 at most.
 *
 * When the run records allocation sites, a block's site (stack-table entry
 * and weights, 16 bytes) is kept in a value array parallel to the entries,
 * mapped for a shard when the shard first stores a site: one look-up under
 * one lock serves both the size and the site, on allocation and on free.
 * Then a slot costs 24 bytes: 36 bytes per live block on average, 48 at
 * most, in the shards that hold a site (with --sample, a shard gets its
 * value array with its first sampled block). A block without a site costs
 * nothing more: its entry's site bit is clear, and its value slot is never
 * read or written. A fork child unmaps the value arrays (the parent's
 * sites are not its own); an inherited entry whose site bit is set then
 * finds no array, or a zeroed slot in one mapped later, so no site. */
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

/* The lock when it is free (one exchange). The common paths below take it
 * so and leave every other case to a function of its own: then they call
 * nothing and need no registers saved. */
static inline bool try_lock(shard *s) {
  return !atomic_flag_test_and_set_explicit(&s->lock, memory_order_acquire);
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

/* Puts entry e of key k (and site, when not NULL) into s, whose lock the
 * caller holds; releases it. */
static inline bool insert(shard *s, uint64_t k, entry e, const zmp_site *site) {
  if (s->count >= s->limit && !grow(s)) {
    unlock(s);
    return false;
  }
  size_t i = find(s, k);
  s->count += !s->tab[i];
  bool stored = !site;
  if (site && (s->val || add_values(s))) {
    s->val[i] = *site;
    e |= SITE_BIT;
    stored = true;
  }
  s->tab[i] = e;
  unlock(s);
  return stored;
}

/* The rare puts: a site to store, a table to grow, or a lock held by
 * another thread (taken is false then). */
__attribute__((noinline)) static bool put_slow(shard *s, bool taken, uint64_t k, entry e,
                                               const zmp_site *site) {
  if (!taken)
    lock(s);
  return insert(s, k, e, site);
}

bool zmp_sizes_put(const void *p, size_t requested, size_t held,
                   const zmp_site *site) {
  uint64_t k = (uintptr_t)p >> 4;
  if (!k || k >> (64 - KEY_SHIFT))
    return false; /* outside the 47-bit address space: counted as usable */
  size_t slack = held - requested;
  entry e = k << KEY_SHIFT | (slack < SLACK_UNKNOWN ? slack : SLACK_UNKNOWN);
  shard *s = shard_of(k);
  if (site && !site->count)
    site = NULL;
  bool taken = try_lock(s);
  if (__builtin_expect(!taken || site || s->count >= s->limit, 0))
    return put_slow(s, taken, k, e, site);
  size_t i = find(s, k);
  s->count += !s->tab[i];
  s->tab[i] = e;
  unlock(s);
  return true;
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

__attribute__((noinline)) static size_t take_contended(shard *s, uint64_t k,
                                                       zmp_site *site) {
  lock(s);
  return take(s, k, site);
}

size_t zmp_sizes_remove(const void *p, zmp_site *site) {
  uint64_t k = (uintptr_t)p >> 4;
  shard *s = shard_of(k);
  if (__builtin_expect(!try_lock(s), 0))
    return take_contended(s, k, site);
  return take(s, k, site);
}

size_t zmp_sizes_take(const void *p, size_t held, zmp_site *site) {
  return zmp_sizes_requested(held, zmp_sizes_remove(p, site));
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
