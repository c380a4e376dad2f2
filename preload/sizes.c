/* The requested size of every live block, keyed by address.
 *
 * The lean layout keeps nothing next to a block, and the allocator only
 * knows the usable size, so the bytes a program asked for are kept here: a
 * hash table split into shards by address, each an open-addressing table
 * with linear probing and backward-shift deletion, guarded by its own spin
 * lock and grown by doubling into fresh pages from mmap (never malloc).
 * Threads that touch different shards share no cache line. */
#include "sizes.h"

#include <stdatomic.h>
#include <stdint.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>

#define NSHARDS 256
#define MIN_CAP 512 /* entries */

typedef struct entry {
  uintptr_t key; /* 0: empty */
  size_t size;
} entry;

typedef struct shard {
  _Alignas(64) atomic_flag lock;
  entry *tab;
  size_t cap, count; /* cap: a power of two */
} shard;

static shard shards[NSHARDS];

static inline uint64_t mix(uintptr_t p) {
  return ((uint64_t)p >> 4) * 0x9e3779b97f4a7c15ULL;
}

static inline shard *shard_of(uint64_t h) { return &shards[h >> 56]; }

static inline void spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/* Spins briefly, then yields: on a machine with more threads than cores the
 * holder may be descheduled, and spinning would waste the whole slice. */
static void lock(shard *s) {
  for (unsigned n = 0;
       atomic_flag_test_and_set_explicit(&s->lock, memory_order_acquire); n++) {
    if (n < 64)
      spin_pause();
    else
      sched_yield();
  }
}

static void unlock(shard *s) {
  atomic_flag_clear_explicit(&s->lock, memory_order_release);
}

static entry *map_table(size_t cap) {
  void *p = mmap(NULL, cap * sizeof(entry), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static void put(entry *tab, size_t cap, uintptr_t key, size_t size) {
  size_t i = (size_t)mix(key) & (cap - 1);
  while (tab[i].key && tab[i].key != key)
    i = (i + 1) & (cap - 1);
  tab[i].key = key;
  tab[i].size = size;
}

/* Doubles s's table; false when no memory is left (the entry is dropped). */
static int grow(shard *s) {
  size_t cap = s->cap ? s->cap * 2 : MIN_CAP;
  entry *t = map_table(cap);
  if (!t)
    return 0;
  for (size_t i = 0; i < s->cap; i++)
    if (s->tab[i].key)
      put(t, cap, s->tab[i].key, s->tab[i].size);
  if (s->tab)
    munmap(s->tab, s->cap * sizeof(entry));
  s->tab = t;
  s->cap = cap;
  return 1;
}

void zmp_sizes_put(const void *p, size_t size) {
  uintptr_t key = (uintptr_t)p;
  shard *s = shard_of(mix(key));
  lock(s);
  if ((s->count + 1) * 2 > s->cap && !grow(s)) {
    unlock(s);
    return;
  }
  size_t i = (size_t)mix(key) & (s->cap - 1);
  while (s->tab[i].key && s->tab[i].key != key)
    i = (i + 1) & (s->cap - 1);
  if (!s->tab[i].key)
    s->count++;
  s->tab[i].key = key;
  s->tab[i].size = size;
  unlock(s);
}

/* Removes slot i, shifting back the entries after it that probed past it. */
static void erase(shard *s, size_t i) {
  size_t mask = s->cap - 1, j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (!s->tab[j].key)
      break;
    size_t home = (size_t)mix(s->tab[j].key) & mask;
    /* Move j into the hole at i unless its home lies in (i, j]. */
    if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
      s->tab[i] = s->tab[j];
      i = j;
    }
  }
  s->tab[i].key = 0;
  s->count--;
}

int zmp_sizes_take(const void *p, size_t *size) {
  uintptr_t key = (uintptr_t)p;
  shard *s = shard_of(mix(key));
  int found = 0;
  lock(s);
  if (s->cap) {
    size_t i = (size_t)mix(key) & (s->cap - 1);
    while (s->tab[i].key && s->tab[i].key != key)
      i = (i + 1) & (s->cap - 1);
    if (s->tab[i].key) {
      *size = s->tab[i].size;
      erase(s, i);
      found = 1;
    }
  }
  unlock(s);
  return found;
}

void zmp_sizes_prepare_fork(void) {
  for (int i = 0; i < NSHARDS; i++)
    lock(&shards[i]);
}

void zmp_sizes_after_fork(void) {
  for (int i = NSHARDS - 1; i >= 0; i--)
    unlock(&shards[i]);
}
