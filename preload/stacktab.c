/* The stack table: see stacktab.h. */
#include "stacktab.h"

#include "stackhash.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEPTH_LIMIT 1024
#define SPIN_LIMIT (1 << 20) /* waits for an entry being written, then moves on */

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

/* --------------------------------------------------------------- layout */

static uintptr_t *pool(zm__st_header *t) {
  return (uintptr_t *)((char *)(t + 1) + (size_t)t->capacity * sizeof(zm__st_entry));
}

static zm__st_entry *entries(zm__st_header *t) { return (zm__st_entry *)(t + 1); }

size_t zm__stacktab_size(uint32_t capacity, uint32_t max_depth, uint64_t frames_cap) {
  if (capacity < 2 || (capacity & (capacity - 1)) != 0 || capacity > (1u << 28) ||
      max_depth == 0 || max_depth > MAX_DEPTH_LIMIT || frames_cap == 0 ||
      frames_cap > ((uint64_t)1 << 40))
    return 0;
  return sizeof(zm__st_header) + (size_t)capacity * sizeof(zm__st_entry) +
         (size_t)frames_cap * sizeof(uintptr_t);
}

zm__st_header *zm__stacktab_init(void *region, size_t len, uint32_t capacity,
                                 uint32_t max_depth, uint64_t frames_cap) {
  size_t need = zm__stacktab_size(capacity, max_depth, frames_cap);
  if (!region || need == 0 || len < need || (uintptr_t)region % 64 != 0) {
    errno = EINVAL;
    return NULL;
  }
  zm__st_header *t = region;
  memset(t, 0, sizeof *t + (size_t)capacity * sizeof(zm__st_entry));
  t->version = ZM__ST_VERSION;
  t->header_size = sizeof *t;
  t->entry_size = sizeof(zm__st_entry);
  t->capacity = capacity;
  t->max_depth = max_depth;
  t->frames_cap = frames_cap;
  t->overflow.state = ZM__ST_READY;
  /* The magic last: a reader that sees it sees the rest. */
  atomic_thread_fence(memory_order_release);
  t->magic = ZM__ST_MAGIC;
  return t;
}

/* ------------------------------------------------------------- lookup */

static bool same(zm__st_header *t, const zm__st_entry *e, uint64_t h,
                 const uintptr_t *f, uint32_t depth) {
  if (e->hash != h || e->depth != depth)
    return false;
  const uintptr_t *g = pool(t) + e->frames;
  for (uint32_t i = 0; i < depth; i++) /* (a few frames: no call to memcmp) */
    if (g[i] != f[i])
      return false;
  return true;
}

/* Waits while another thread writes entry e's stack; false when that takes
 * too long (the writer was interrupted by a signal whose handler allocates
 * here, or stopped): the caller then moves on to the next entry. */
static bool wait_ready(zm__st_entry *e) {
  for (int i = 0; i < SPIN_LIMIT; i++) {
    if (atomic_load_explicit(&e->state, memory_order_acquire) == ZM__ST_READY)
      return true;
    cpu_relax();
  }
  return false;
}

/* Claims empty entry e for the stack; false when another thread took it
 * first or the table is full (*full set). */
static bool claim(zm__st_header *t, zm__st_entry *e, uint64_t h,
                  const uintptr_t *f, uint32_t depth, bool *full) {
  uint32_t used = atomic_load_explicit(&t->entries_used, memory_order_relaxed);
  if ((uint64_t)used + 1 > (uint64_t)t->capacity / 4 * 3) {
    *full = true;
    return false;
  }
  uint32_t expect = ZM__ST_EMPTY;
  if (!atomic_compare_exchange_strong_explicit(&e->state, &expect, ZM__ST_CLAIMED,
                                               memory_order_acquire,
                                               memory_order_acquire))
    return false;
  uint64_t at = atomic_fetch_add_explicit(&t->frames_used, depth, memory_order_relaxed);
  if (at > t->frames_cap || depth > t->frames_cap - at) {
    /* No room for the frames: the entry stays claimed forever and readers
     * skip it; the stack goes to the overflow entry. */
    *full = true;
    return false;
  }
  memcpy(pool(t) + at, f, depth * sizeof *f);
  e->hash = h;
  e->depth = depth;
  e->frames = at;
  atomic_fetch_add_explicit(&t->entries_used, 1, memory_order_relaxed);
  atomic_store_explicit(&e->state, ZM__ST_READY, memory_order_release);
  return true;
}

static zm__st_entry *turn_away(zm__st_header *t) {
  atomic_fetch_add_explicit(&t->turned_away, 1, memory_order_relaxed);
  return &t->overflow;
}

zm__st_entry *zm__stacktab_find(zm__st_header *t, const uintptr_t *frames,
                                uint32_t depth) {
  if (depth > t->max_depth)
    depth = t->max_depth;
  return zm__stacktab_find_hashed(t, frames, depth, zm__stack_hash(frames, depth));
}

zm__st_entry *zm__stacktab_find_hashed(zm__st_header *t, const uintptr_t *frames,
                                       uint32_t depth, uint64_t h) {
  if (depth > t->max_depth) {
    depth = t->max_depth;
    h = zm__stack_hash(frames, depth);
  }
  if (depth == 0)
    return &t->overflow;
  uint32_t mask = t->capacity - 1;
  zm__st_entry *tab = entries(t);
  for (uint32_t n = 0, i = (uint32_t)h & mask; n <= mask; n++, i = (i + 1) & mask) {
    zm__st_entry *e = &tab[i];
    uint32_t st = atomic_load_explicit(&e->state, memory_order_acquire);
    if (st == ZM__ST_EMPTY) {
      bool full = false;
      if (claim(t, e, h, frames, depth, &full))
        return e;
      if (full)
        return turn_away(t);
      st = atomic_load_explicit(&e->state, memory_order_acquire);
    }
    if (st == ZM__ST_CLAIMED && !wait_ready(e))
      continue;
    if (same(t, e, h, frames, depth))
      return e;
  }
  return turn_away(t);
}

/* ------------------------------------------------------------ counting */

/* Saves an entry's live figures as its figures at the peak of epoch s,
 * unless a change in epoch s already did. */
static void save_peak(zm__st_counters *c, uint64_t s) {
  while (atomic_exchange_explicit(&c->lock, 1, memory_order_acquire))
    cpu_relax();
  if (atomic_load_explicit(&c->seq, memory_order_relaxed) != s) {
    atomic_store_explicit(&c->peak_count,
                          atomic_load_explicit(&c->live_count,
                                               memory_order_relaxed),
                          memory_order_relaxed);
    atomic_store_explicit(&c->peak_bytes,
                          atomic_load_explicit(&c->live_bytes,
                                               memory_order_relaxed),
                          memory_order_relaxed);
    atomic_store_explicit(&c->seq, s, memory_order_release);
  }
  atomic_store_explicit(&c->lock, 0, memory_order_release);
}

static void change_live(zm__st_header *t, zm__st_counters *c, int64_t count,
                        int64_t bytes) {
  uint64_t s = atomic_load_explicit(&t->peak_seq, memory_order_acquire);
  if (atomic_load_explicit(&c->seq, memory_order_acquire) != s)
    save_peak(c, s);
  atomic_fetch_add_explicit(&c->live_count, count, memory_order_relaxed);
  atomic_fetch_add_explicit(&c->live_bytes, bytes, memory_order_relaxed);
}

/* Adds bytes to the thread's share of the total; returns the thread's view
 * of the total (P + its unpublished bytes). */
static int64_t change_total(zm__st_header *t, zm__st_local *l, int64_t bytes) {
  int64_t u = l->unpublished + bytes;
  if (u > ZM__ST_GRANULE || u < -ZM__ST_GRANULE) {
    l->unpublished = 0;
    return atomic_fetch_add_explicit(&t->published, u, memory_order_relaxed) + u;
  }
  l->unpublished = u;
  return atomic_load_explicit(&t->published, memory_order_relaxed) + u;
}

static void raise_peak(zm__st_header *t, int64_t v) {
  int64_t p = atomic_load_explicit(&t->peak, memory_order_relaxed);
  while (v > p) {
    if (atomic_compare_exchange_weak_explicit(&t->peak, &p, v, memory_order_relaxed,
                                              memory_order_relaxed)) {
      atomic_fetch_add_explicit(&t->peak_seq, 1, memory_order_release);
      return;
    }
  }
}

void zm__stacktab_alloc(zm__st_header *t, zm__st_local *l, zm__st_entry *e,
                        uint64_t count, uint64_t bytes) {
  atomic_fetch_add_explicit(&e->c.alloc_count, count, memory_order_relaxed);
  atomic_fetch_add_explicit(&e->c.alloc_bytes, bytes, memory_order_relaxed);
  change_live(t, &e->c, (int64_t)count, (int64_t)bytes);
  int64_t v = change_total(t, l, (int64_t)bytes);
  if (v > atomic_load_explicit(&t->peak, memory_order_relaxed))
    raise_peak(t, v);
}

void zm__stacktab_free(zm__st_header *t, zm__st_local *l, zm__st_entry *e,
                       uint64_t count, uint64_t bytes) {
  change_live(t, &e->c, -(int64_t)count, -(int64_t)bytes);
  change_total(t, l, -(int64_t)bytes);
}

void zm__stacktab_thread_exit(zm__st_header *t, zm__st_local *l) {
  if (l->unpublished) {
    int64_t v = atomic_fetch_add_explicit(&t->published, l->unpublished,
                                          memory_order_relaxed) + l->unpublished;
    l->unpublished = 0;
    if (v > atomic_load_explicit(&t->peak, memory_order_relaxed))
      raise_peak(t, v);
  }
}

/* ------------------------------------------------------------- reading */

static int fail(char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* The table's shape, copied once out of the region: the reader uses only
 * this copy, so a writer cannot change a size between its check and its use. */
typedef struct shape {
  uint32_t capacity, max_depth;
  uint64_t frames_cap, weighted;
} shape;

/* Copies n bytes (a multiple of 8, 8-aligned) once, word by word with
 * relaxed atomic loads: the region may be written meanwhile (each word is
 * then whatever it was at some moment, and is checked only in the copy). */
static void copy_words(void *dst, const void *src, size_t n) {
  const uint64_t *s = src;
  for (size_t i = 0; i < n / 8; i++) {
    uint64_t w = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
    /* memcpy, not a uint64_t store: dst is a struct read through its own
     * field types afterwards, which a word store would not alias. */
    memcpy((char *)dst + i * 8, &w, sizeof w);
  }
}

_Static_assert(sizeof(zm__st_header) % 8 == 0 && sizeof(zm__st_entry) % 8 == 0 &&
                   sizeof(uintptr_t) == 8,
               "the reader copies whole words");

static int check_header(const zm__st_header *h, size_t len, shape *sh, char *err,
                        size_t errlen) {
  if (h->magic != ZM__ST_MAGIC)
    return fail(err, errlen, "stack table: bad magic");
  if (h->version != ZM__ST_VERSION || h->header_size != sizeof *h ||
      h->entry_size != sizeof(zm__st_entry))
    return fail(err, errlen, "stack table: version %u (header %u, entry %u bytes) "
                "is not version %d", h->version, h->header_size, h->entry_size,
                ZM__ST_VERSION);
  size_t need = zm__stacktab_size(h->capacity, h->max_depth, h->frames_cap);
  if (need == 0)
    return fail(err, errlen, "stack table: invalid shape (capacity %u, depth %u)",
                h->capacity, h->max_depth);
  if (need > len)
    return fail(err, errlen, "stack table: needs %zu bytes, region has %zu", need, len);
  *sh = (shape){h->capacity, h->max_depth, h->frames_cap, h->weighted};
  return 0;
}

/* An entry's counters, from its copy; the peak figures as the reader must
 * take them (saved ones when the entry changed in the last epoch, else the
 * live ones). */
static void copy_counters(const zm__st_counters *c, uint64_t peak_seq, zm__st_site *s) {
  s->alloc_count = c->alloc_count;
  s->alloc_bytes = c->alloc_bytes;
  s->live_count = c->live_count;
  s->live_bytes = c->live_bytes;
  if (c->seq == peak_seq) {
    s->peak_count = c->peak_count;
    s->peak_bytes = c->peak_bytes;
  } else {
    s->peak_count = s->live_count;
    s->peak_bytes = s->live_bytes;
  }
}

static int read_entry(const void *region, const shape *sh, uint32_t i, uint64_t peak_seq,
                      uintptr_t *buf, zm__st_site *s, char *err, size_t errlen) {
  const zm__st_entry *e0 = (const zm__st_entry *)((const zm__st_header *)region + 1) + i;
  uint32_t st = atomic_load_explicit((_Atomic uint32_t *)&e0->state, memory_order_acquire);
  if (st > ZM__ST_READY)
    return fail(err, errlen, "stack table: entry %u has state %u", i, st);
  if (st != ZM__ST_READY)
    return 0;
  zm__st_entry e;
  copy_words(&e, e0, sizeof e);
  uint32_t depth = e.depth;
  uint64_t at = e.frames;
  if (depth == 0 || depth > sh->max_depth || at > sh->frames_cap ||
      depth > sh->frames_cap - at)
    return fail(err, errlen, "stack table: entry %u has %u frames at %llu, "
                "outside the pool", i, depth, (unsigned long long)at);
  const char *p = (const char *)((const zm__st_header *)region + 1) +
                  (size_t)sh->capacity * sizeof(zm__st_entry);
  copy_words(buf, p + at * sizeof(uintptr_t), depth * sizeof(uintptr_t));
  s->frames = buf;
  s->depth = depth;
  copy_counters(&e.c, peak_seq, s);
  return 1;
}

int zm__stacktab_read(const void *region, size_t len, zm__st_summary *sum,
                      zm__st_cb cb, void *arg, char *err, size_t errlen) {
  if (!region)
    return fail(err, errlen, "stack table: none");
  if (len < sizeof(zm__st_header))
    return fail(err, errlen, "stack table: %zu bytes, less than its header", len);
  zm__st_header h;
  memset(&h, 0, sizeof h); /* gcc cannot see that copy_words fills it */
  shape sh = {0, 0, 0, 0};
  copy_words(&h, region, sizeof h);
  if (check_header(&h, len, &sh, err, errlen) != 0)
    return -1;
  uint64_t peak_seq = h.peak_seq;
  zm__st_summary s0 = {
      .capacity = sh.capacity, .max_depth = sh.max_depth,
      .entries = h.entries_used, .frames_cap = sh.frames_cap,
      .frames_used = h.frames_used, .turned_away = h.turned_away,
      .peak = h.peak, .weighted = sh.weighted != 0};
  if (sum)
    *sum = s0;
  uintptr_t buf[MAX_DEPTH_LIMIT];
  zm__st_site site = {.frames = buf, .depth = 0};
  copy_counters(&h.overflow.c, peak_seq, &site);
  if (cb && (site.alloc_count || site.live_count) && cb(&site, arg))
    return 0;
  for (uint32_t i = 0; i < sh.capacity; i++) {
    int r = read_entry(region, &sh, i, peak_seq, buf, &site, err, errlen);
    if (r < 0)
      return -1;
    if (r > 0 && cb && cb(&site, arg))
      return 0;
  }
  return 0;
}
