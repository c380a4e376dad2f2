/* Accounting: the registry of per-thread slots, the shared totals, the peak,
 * and the global figures (zm_used_memory, zm_get_stats). See stats.h. */
#include "fork.h"
#include "stats.h"
#include "prim/prim.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

zm__slot zm__shut_slot = {.lo = ZM__WINDOW_SHUT};
__thread zm__slot *zm__my_slot __attribute__((tls_model("initial-exec"))) =
    &zm__shut_slot;

zm__cshared zm__total;
_Atomic uint64_t zm__peak_epoch;

static pthread_mutex_t registry_mutex = PTHREAD_MUTEX_INITIALIZER;
static zm__slot *registry; /* slots of live threads */

/* Calls counted by exited threads and by threads past their exit hook. */
static _Atomic uint64_t folded_calls[ZM__NCALLS];

static void lock(void) { pthread_mutex_lock(&registry_mutex); }
static void unlock(void) { pthread_mutex_unlock(&registry_mutex); }

/* ------------------------------------------------------- shared totals */

static uint64_t epoch(void) {
  return atomic_load_explicit(&zm__peak_epoch, memory_order_relaxed);
}

int64_t zm__current_candidate(zm__cset *c) {
  if (atomic_load_explicit(&c->cand_epoch, memory_order_acquire) != epoch())
    return 0;
  return atomic_load_explicit(&c->candidate, memory_order_relaxed);
}

void zm__raise_peak(zm__cshared *sh, int64_t v) {
  int64_t p = atomic_load_explicit(&sh->peak, memory_order_relaxed);
  while (v > p && !atomic_compare_exchange_weak_explicit(
                      &sh->peak, &p, v, memory_order_relaxed,
                      memory_order_relaxed))
    ;
}

void zm__publish(zm__cset *c, zm__cshared *sh) {
  int64_t u = c->unpublished;
  c->unpublished = 0;
  zm__raise_peak(sh, atomic_fetch_add_explicit(&sh->published, u,
                                               memory_order_relaxed) +
                         u);
}

void zm__shared_add(zm__cshared *sh, int64_t bytes, int64_t blocks) {
  atomic_fetch_add(&sh->folded_bytes, bytes);
  atomic_fetch_add(&sh->folded_blocks, blocks);
  zm__raise_peak(sh, atomic_fetch_add(&sh->published, bytes) + bytes);
}

static int64_t take(_Atomic int64_t *c) {
  return atomic_exchange_explicit(c, 0, memory_order_relaxed);
}

void zm__fold_set(zm__cset *c, zm__cshared *sh) {
  atomic_fetch_add(&sh->folded_bytes, take(&c->bytes));
  atomic_fetch_add(&sh->folded_blocks, take(&c->blocks));
  zm__raise_peak(sh, zm__current_candidate(c));
  zm__publish(c, sh);
}

/* ------------------------------------------------------------ registry */

/* Slots come from pages zmem maps itself, SLOTS_PER_MAP at a time, and go
 * back to a free list (never to the OS) when their thread exits. */
#define SLOTS_PER_MAP 256
static zm__slot *free_slots; /* linked by next; registry lock */

/* The tags' hooks (tags.c, registered at set-up); NULL until then. */
static _Atomic(const zm__stats_tag_hooks *) tag_hooks;

void zm__stats_set_tag_hooks(const zm__stats_tag_hooks *h) {
  atomic_store_explicit(&tag_hooks, h, memory_order_release);
}

static const zm__stats_tag_hooks *tags_hooked(void) {
  return atomic_load_explicit(&tag_hooks, memory_order_acquire);
}

static zm__slot *slot_alloc_locked(void) {
  if (!free_slots) {
    zm__slot *m = zm__prim_map(SLOTS_PER_MAP * sizeof(zm__slot));
    if (!m)
      return NULL;
    for (size_t i = 0; i < SLOTS_PER_MAP; i++)
      m[i].next = i + 1 < SLOTS_PER_MAP ? &m[i + 1] : NULL;
    free_slots = m;
  }
  zm__slot *s = free_slots;
  free_slots = s->next;
  memset(s, 0, sizeof *s);
  s->lo = ZM__WINDOW_SHUT; /* its first count sets the window */
  return s;
}

/* A new slot, linked into the registry; NULL without memory for one. */
static zm__slot *slot_new(void) {
  lock();
  zm__slot *s = slot_alloc_locked();
  if (s) {
    s->next = registry;
    if (registry)
      registry->prev = s;
    registry = s;
  }
  unlock();
  return s;
}

static void unlink_slot(zm__slot *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    registry = s->next;
  if (s->next)
    s->next->prev = s->prev;
}

/* Moves the slot's counts into the shared totals, atomically with respect
 * to readers, and returns it to the free list (registry lock held). */
static void retire_locked(zm__slot *s) {
  atomic_store(&s->lo, ZM__WINDOW_SHUT);
  s->total.unpublished =
      atomic_load_explicit(&s->total.bytes, memory_order_relaxed) -
      s->mark.base;
  zm__fold_set(&s->total, &zm__total);
  for (int i = 0; i < ZM__NCALLS; i++)
    atomic_fetch_add(&folded_calls[i],
                     atomic_exchange_explicit(&s->calls[i], 0,
                                              memory_order_relaxed));
  const zm__stats_tag_hooks *tags = tags_hooked();
  if (tags) {
    tags->fold(s);
    tags->release(s);
  }
  unlink_slot(s);
  s->next = free_slots;
  free_slots = s;
}

/* A thread that has passed its exit hook counts into the shared totals. */
static __thread bool my_slot_gone __attribute__((tls_model("initial-exec")));

/* Thread exit. */
static void exit_hook(void *arg) {
  lock();
  retire_locked(arg);
  unlock();
  zm__my_slot = &zm__shut_slot;
  my_slot_gone = true;
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init(void) {
  zm__prim_thread_exit_init(exit_hook);
}

/* Runs at the first allocation and at a thread's first count, whichever
 * comes first: a call that fails before any allocation counts too, and its
 * thread must not arm an exit hook that was never created. */
void zm__stats_init(void) { pthread_once(&init_once, init); }

/* ---------------------------------------------------------- the window */

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Publishes the set's bytes since its last publish once they pass a
 * granule either way. */
static void publish_if_due(zm__cset *c, zm__wmark *m, zm__cshared *sh,
                           int64_t b) {
  int64_t u = b - m->base;
  if ((uint64_t)(u + (int64_t)ZM_PEAK_GRANULE) <= 2 * (uint64_t)ZM_PEAK_GRANULE)
    return;
  c->unpublished = u;
  zm__publish(c, sh);
  m->base = b;
}

/* Records the candidate P + unpublished at a new high of the owner's own
 * bytes (the first call after a reset starts a new high). */
static void note_high(zm__cset *c, zm__wmark *m, const zm__cshared *sh,
                      int64_t b, uint64_t e) {
  if (m->top_epoch == e && b <= m->top)
    return;
  m->top = b;
  m->top_epoch = e;
  c->unpublished = b - m->base;
  zm__note_peak(c, sh, b - m->base);
}

/* The window around b: down to a granule below the last publish, up to the
 * owner's high or a granule above the last publish, whichever is lower.
 * Installed with a compare-and-swap from lo0, the start read before the
 * epoch: a reset that shut the window since then keeps it shut. */
static void open_window(_Atomic int64_t *lo, uint64_t *span,
                        const zm__wmark *m, int64_t lo0) {
  int64_t g = (int64_t)ZM_PEAK_GRANULE;
  int64_t start = m->base - g, hi = min64(m->base + g, m->top);
  *span = (uint64_t)(hi - start);
  atomic_compare_exchange_strong(lo, &lo0, start);
}

/* Inlined into the total's slow path, which every thread takes at each
 * new high of its own. */
static zm__hot_inline void window_left(_Atomic int64_t *lo, uint64_t *span,
                                       zm__cset *c, zm__wmark *m,
                                       zm__cshared *sh, int64_t b, int64_t lo0,
                                       uint64_t e, bool open) {
  publish_if_due(c, m, sh, b);
  note_high(c, m, sh, b, e);
  if (open)
    open_window(lo, span, m, lo0);
}

void zm__window_left(_Atomic int64_t *lo, uint64_t *span, zm__cset *c,
                     zm__wmark *m, zm__cshared *sh, int64_t b, int64_t lo0,
                     uint64_t e, bool open) {
  window_left(lo, span, c, m, sh, b, lo0, e, open);
}

/* A count that left the thread's window. */
static void count_outside(zm__slot *s, int64_t bytes, int64_t blocks,
                          zm__call call) {
  int64_t lo0 = atomic_load(&s->lo);
  uint64_t e = atomic_load(&zm__peak_epoch);
  int64_t b = atomic_load_explicit(&s->total.bytes, memory_order_relaxed) +
              bytes;
  atomic_store_explicit(&s->total.bytes, b, memory_order_relaxed);
  zm__relaxed_add(&s->total.blocks, blocks);
  zm__relaxed_inc(&s->calls[call]);
  window_left(&s->lo, &s->span, &s->total, &s->mark, &zm__total, b, lo0, e,
              true);
}

/* A thread's first count, a count after its exit hook, or a count that
 * left the window. However late the first one comes (even in the last
 * round of key destructors, when the hook armed here never runs), the slot
 * stays valid: it is zmem's memory. */
static void count_slow(int64_t bytes, int64_t blocks, zm__call call) {
  zm__slot *s = zm__own_slot();
  if (s) {
    count_outside(s, bytes, blocks, call);
    return;
  }
  if (!my_slot_gone) {
    zm__stats_init();
    s = slot_new();
    my_slot_gone = s == NULL; /* no memory for a slot: count as shared */
  }
  if (!s) {
    zm__shared_add(&zm__total, bytes, blocks);
    atomic_fetch_add(&folded_calls[call], 1);
    return;
  }
  zm__my_slot = s;
  zm__prim_thread_watch(s); /* may allocate: the slot is in place already */
  zm__count(bytes, blocks, call);
}

void *zm__count_slow_p(void *p, int64_t bytes, int64_t blocks,
                       zm__call call) {
  count_slow(bytes, blocks, call);
  return p;
}

void zm__each_slot(void (*fn)(zm__slot *, void *), void *arg) {
  lock();
  for (zm__slot *s = registry; s; s = s->next)
    fn(s, arg);
  unlock();
}

void zm__sum_sets(const zm__cshared *sh, zm__cset *(*pick)(zm__slot *, void *),
                  void *arg, zm__sum *out) {
  lock();
  out->bytes = atomic_load(&sh->folded_bytes);
  out->blocks = atomic_load(&sh->folded_blocks);
  out->peak = atomic_load(&sh->peak);
  for (zm__slot *s = registry; s; s = s->next) {
    zm__cset *c = pick(s, arg);
    if (!c)
      continue;
    out->bytes += atomic_load_explicit(&c->bytes, memory_order_relaxed);
    out->blocks += atomic_load_explicit(&c->blocks, memory_order_relaxed);
    int64_t cand = zm__current_candidate(c);
    out->peak = cand > out->peak ? cand : out->peak;
  }
  unlock();
  out->peak = out->bytes > out->peak ? out->bytes : out->peak;
}

/* ------------------------------------------------------------- readers */

static zm__cset *pick_total(zm__slot *s, void *arg) {
  (void)arg;
  return &s->total;
}

static size_t clamp(int64_t v) { return v > 0 ? (size_t)v : 0; }

size_t zm_used_memory(void) {
  zm__sum t;
  zm__sum_sets(&zm__total, pick_total, NULL, &t);
  return clamp(t.bytes);
}

size_t zm__live_blocks(void) {
  zm__sum t;
  zm__sum_sets(&zm__total, pick_total, NULL, &t);
  return clamp(t.blocks);
}

size_t zm_peak_memory(void) {
  zm__sum t;
  zm__sum_sets(&zm__total, pick_total, NULL, &t);
  return clamp(t.peak);
}

/* A new epoch makes every thread's candidate stale; each peak restarts from
 * its current total. Under the registry lock so exits cannot interleave. */
void zm_reset_peak(void) {
  const zm__stats_tag_hooks *tags = tags_hooked();
  lock();
  atomic_store(&zm__peak_epoch, epoch() + 1);
  for (zm__slot *s = registry; s; s = s->next) {
    atomic_store(&s->lo, ZM__WINDOW_SHUT); /* each takes its slow path */
    if (tags)
      tags->shut_windows(s);
  }
  unlock();
  zm__sum t;
  zm__sum_sets(&zm__total, pick_total, NULL, &t);
  atomic_store(&zm__total.peak, t.bytes);
  if (tags)
    tags->reset_peaks();
}

static void sum_calls(zm__slot *s, void *arg) {
  uint64_t *calls = arg;
  for (int i = 0; i < ZM__NCALLS; i++)
    calls[i] += atomic_load_explicit(&s->calls[i], memory_order_relaxed);
}

void zm__stats_counts(zm_stats *st) {
  uint64_t calls[ZM__NCALLS];
  for (int i = 0; i < ZM__NCALLS; i++)
    calls[i] = atomic_load(&folded_calls[i]);
  zm__each_slot(sum_calls, calls);
  zm__sum t;
  zm__sum_sets(&zm__total, pick_total, NULL, &t);
  st->used = clamp(t.bytes);
  st->peak = clamp(t.peak);
  st->live_blocks = clamp(t.blocks);
  st->malloc_calls = calls[ZM__CALL_MALLOC];
  st->calloc_calls = calls[ZM__CALL_CALLOC];
  st->realloc_calls = calls[ZM__CALL_REALLOC];
  st->aligned_calls = calls[ZM__CALL_ALIGNED];
  st->free_calls = calls[ZM__CALL_FREE];
  st->failures = calls[ZM__CALL_FAILURE];
  st->realloc_moved = calls[ZM__CALL_MOVED];
}

/* In a fork child only the forking thread exists, and the other threads'
 * exit hooks never run: retire their slots now, so that the figures stay
 * exact and the registry holds only threads that exist. Runs before any
 * other code of the child, with every zmem lock held. */
void zm__registry_fork_child(void) {
  zm__slot *self = zm__own_slot();
  for (zm__slot *s = registry, *next; s; s = next) {
    next = s->next;
    if (s != self)
      retire_locked(s);
  }
}

void zm__registry_fork_lock(void) { lock(); }
void zm__registry_fork_unlock(void) { unlock(); }
