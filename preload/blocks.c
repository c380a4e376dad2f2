/* Live blocks with a stack-table entry: an address-keyed hash table split
 * into shards, each with open addressing, linear probing and backward-shift
 * deletion, a spin lock that yields, and pages from mmap. */
#include "blocks.h"

#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>

#define NSHARDS 256
#define MIN_CAP 256

typedef struct slot {
  uintptr_t key; /* 0: empty */
  zmp_block b;
} slot;

typedef struct shard {
  _Alignas(64) atomic_flag lock;
  slot *tab;
  size_t cap;
  _Atomic size_t count; /* read without the lock by zmp_blocks_take */
} shard;

static shard shards[NSHARDS];

static inline uint64_t mix(uintptr_t p) { return ((uint64_t)p >> 4) * 0x9e3779b97f4a7c15ULL; }
static inline shard *shard_of(uintptr_t p) { return &shards[mix(p) >> 56]; }
static inline size_t home(uintptr_t p, size_t cap) { return (size_t)mix(p) & (cap - 1); }

static void lock(shard *s) {
  for (unsigned n = 0; atomic_flag_test_and_set_explicit(&s->lock, memory_order_acquire); n++)
    if (n >= 64)
      sched_yield();
}

static void unlock(shard *s) { atomic_flag_clear_explicit(&s->lock, memory_order_release); }

static void insert(slot *tab, size_t cap, uintptr_t key, zmp_block b) {
  size_t i = home(key, cap);
  while (tab[i].key && tab[i].key != key)
    i = (i + 1) & (cap - 1);
  tab[i].key = key;
  tab[i].b = b;
}

static int grow(shard *s) {
  size_t cap = s->cap ? s->cap * 2 : MIN_CAP;
  slot *t = mmap(NULL, cap * sizeof *t, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
  if (t == MAP_FAILED)
    return 0;
  for (size_t i = 0; i < s->cap; i++)
    if (s->tab[i].key)
      insert(t, cap, s->tab[i].key, s->tab[i].b);
  if (s->tab)
    munmap(s->tab, s->cap * sizeof *s->tab);
  s->tab = t;
  s->cap = cap;
  return 1;
}

int zmp_blocks_put(const void *p, zmp_block b) {
  uintptr_t key = (uintptr_t)p;
  shard *s = shard_of(key);
  lock(s);
  if ((s->count + 1) * 2 > s->cap && !grow(s)) {
    unlock(s);
    return 0;
  }
  size_t i = home(key, s->cap);
  while (s->tab[i].key && s->tab[i].key != key)
    i = (i + 1) & (s->cap - 1);
  if (!s->tab[i].key)
    atomic_store_explicit(&s->count, s->count + 1, memory_order_relaxed);
  s->tab[i].key = key;
  s->tab[i].b = b;
  unlock(s);
  return 1;
}

/* Empties slot i, moving back later entries that probed past it. */
static void erase(shard *s, size_t i) {
  size_t mask = s->cap - 1, j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (!s->tab[j].key)
      break;
    size_t h = home(s->tab[j].key, s->cap);
    if ((j > i && (h <= i || h > j)) || (j < i && h <= i && h > j)) {
      s->tab[i] = s->tab[j];
      i = j;
    }
  }
  s->tab[i].key = 0;
  atomic_store_explicit(&s->count, s->count - 1, memory_order_relaxed);
}

int zmp_blocks_take(const void *p, zmp_block *b) {
  uintptr_t key = (uintptr_t)p;
  shard *s = shard_of(key);
  int found = 0;
  /* Most frees under sampling find an empty shard: no lock for them. A
   * block of this shard was put before the pointer reached this free, so
   * the count that covers it is visible here. */
  if (atomic_load_explicit(&s->count, memory_order_relaxed) == 0)
    return 0;
  lock(s);
  if (s->count) {
    size_t i = home(key, s->cap);
    while (s->tab[i].key && s->tab[i].key != key)
      i = (i + 1) & (s->cap - 1);
    if (s->tab[i].key) {
      *b = s->tab[i].b;
      erase(s, i);
      found = 1;
    }
  }
  unlock(s);
  return found;
}

void zmp_blocks_prepare_fork(void) {
  for (int i = 0; i < NSHARDS; i++)
    lock(&shards[i]);
}

void zmp_blocks_after_fork(int child) {
  for (int i = 0; i < NSHARDS; i++) {
    shard *s = &shards[i];
    if (child && s->tab) {
      munmap(s->tab, s->cap * sizeof *s->tab);
      s->tab = NULL;
      s->cap = 0;
      atomic_store_explicit(&s->count, 0, memory_order_relaxed);
    }
    unlock(s);
  }
}
