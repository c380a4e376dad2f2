/* Accounting: the registry of per-thread slots, the totals of exited threads,
 * the peak, and zm_get_stats. See stats.h for the scheme. */
#include "stats.h"
#include "backend.h"
#include "layout.h"
#include "prim/prim.h"

#include <errno.h>
#include <pthread.h>

__thread zm__slot zm__my_slot __attribute__((tls_model("initial-exec")));

static pthread_mutex_t registry_mutex = PTHREAD_MUTEX_INITIALIZER;
static zm__slot *registry; /* linked slots of live threads */

/* What exited threads counted, and what threads count after their exit hook
 * ran (a late free in another thread destructor). */
static struct {
  _Atomic int64_t bytes;
  _Atomic int64_t blocks;
  _Atomic uint64_t calls[ZM__NCALLS];
} folded;

zm__peak_shared zm__peak;
static _Atomic int64_t peak; /* raised by publishes and exits */

static void lock(void) { pthread_mutex_lock(&registry_mutex); }
static void unlock(void) { pthread_mutex_unlock(&registry_mutex); }

static void raise_peak(int64_t v) {
  int64_t p = atomic_load_explicit(&peak, memory_order_relaxed);
  while (v > p && !atomic_compare_exchange_weak_explicit(
                      &peak, &p, v, memory_order_relaxed, memory_order_relaxed))
    ;
}

static uint64_t epoch(void) {
  return atomic_load_explicit(&zm__peak.epoch, memory_order_relaxed);
}

/* The candidate in v if it belongs to the current epoch, else 0. */
static int64_t current_candidate(uint64_t v) {
  return (v >> ZM__EPOCH_SHIFT) == (epoch() & 0xffff)
             ? (int64_t)(v & ZM__CANDIDATE_MASK)
             : 0;
}

void zm__publish(zm__slot *s) {
  int64_t u = s->unpublished;
  s->unpublished = 0;
  raise_peak(atomic_fetch_add_explicit(&zm__peak.published, u,
                                       memory_order_relaxed) +
             u);
}

static void link_slot(zm__slot *s) {
  lock();
  s->prev = NULL;
  s->next = registry;
  if (registry)
    registry->prev = s;
  registry = s;
  s->state = ZM__SLOT_LINKED;
  unlock();
}

static void unlink_slot(zm__slot *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    registry = s->next;
  if (s->next)
    s->next->prev = s->prev;
}

static int64_t take(_Atomic int64_t *c) {
  return atomic_exchange_explicit(c, 0, memory_order_relaxed);
}

/* Thread exit: move the slot's counts into the folded totals, atomically with
 * respect to readers (both happen under the registry lock). */
static void fold_slot(void *arg) {
  zm__slot *s = arg;
  lock();
  atomic_fetch_add(&folded.bytes, take(&s->bytes));
  atomic_fetch_add(&folded.blocks, take(&s->blocks));
  for (int i = 0; i < ZM__NCALLS; i++)
    atomic_fetch_add(&folded.calls[i],
                     atomic_exchange_explicit(&s->calls[i], 0,
                                              memory_order_relaxed));
  raise_peak(current_candidate(atomic_load(&s->candidate)));
  unlink_slot(s);
  s->state = ZM__SLOT_DEAD;
  unlock();
  zm__publish(s);
}

static void before_fork(void) { lock(); }
static void after_fork(void) { unlock(); }

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init(void) {
  zm__prim_thread_exit_init(fold_slot);
  zm__prim_atfork(before_fork, after_fork, after_fork);
}

/* Runs at the first allocation and at a thread's first count, whichever
 * comes first: a call that fails before any allocation counts too, and its
 * thread must not arm an exit hook that was never created. */
void zm__stats_init(void) { pthread_once(&init_once, init); }

/* And at load, before any thread can hold the registry lock: a fork handler
 * registered while another thread forks does not run for that fork. */
zm__at_load static void init_at_load(void) { zm__stats_init(); }

/* A thread counting after its exit hook ran goes straight to the totals. */
static void count_dead(int64_t bytes, int64_t blocks, zm__call call) {
  atomic_fetch_add(&folded.bytes, bytes);
  atomic_fetch_add(&folded.blocks, blocks);
  atomic_fetch_add(&folded.calls[call], 1);
  raise_peak(atomic_fetch_add(&zm__peak.published, bytes) + bytes);
}

void zm__count_slow(int64_t bytes, int64_t blocks, zm__call call) {
  zm__slot *s = &zm__my_slot;
  if (s->state == ZM__SLOT_DEAD) {
    count_dead(bytes, blocks, call);
    return;
  }
  zm__stats_init();
  link_slot(s);
  zm__prim_thread_watch(s); /* may allocate: the slot is linked already */
  zm__count(bytes, blocks, call);
}

/* ------------------------------------------------------------- readers */

typedef struct totals {
  int64_t bytes, blocks, best_candidate;
  uint64_t calls[ZM__NCALLS];
} totals;

static void sum(totals *t) {
  lock();
  t->best_candidate = 0;
  t->bytes = atomic_load(&folded.bytes);
  t->blocks = atomic_load(&folded.blocks);
  for (int i = 0; i < ZM__NCALLS; i++)
    t->calls[i] = atomic_load(&folded.calls[i]);
  for (zm__slot *s = registry; s; s = s->next) {
    t->bytes += atomic_load_explicit(&s->bytes, memory_order_relaxed);
    t->blocks += atomic_load_explicit(&s->blocks, memory_order_relaxed);
    int64_t c = current_candidate(atomic_load(&s->candidate));
    t->best_candidate = c > t->best_candidate ? c : t->best_candidate;
    for (int i = 0; i < ZM__NCALLS; i++)
      t->calls[i] += atomic_load_explicit(&s->calls[i], memory_order_relaxed);
  }
  unlock();
}

static size_t clamp(int64_t v) { return v > 0 ? (size_t)v : 0; }

size_t zm_used_memory(void) {
  totals t;
  sum(&t);
  return clamp(t.bytes);
}

static size_t peak_of(const totals *t) {
  int64_t p = atomic_load_explicit(&peak, memory_order_relaxed);
  p = t->best_candidate > p ? t->best_candidate : p;
  return clamp(t->bytes > p ? t->bytes : p);
}

size_t zm_peak_memory(void) {
  totals t;
  sum(&t);
  return peak_of(&t);
}

/* A new epoch makes every thread's candidate stale; the peak restarts from
 * the current total. Under the registry lock so exits cannot interleave. */
void zm_reset_peak(void) {
  lock();
  atomic_store(&zm__peak.epoch, (epoch() + 1) & 0xffff);
  unlock();
  totals t;
  sum(&t);
  atomic_store_explicit(&peak, t.bytes, memory_order_relaxed);
}

int zm_get_stats(zm_stats *st) {
  if (!st || st->size < sizeof(zm_stats)) {
    errno = EINVAL;
    return -1;
  }
  totals t;
  sum(&t);
  st->version = ZM_STATS_VERSION;
  st->layout = zm__layout_report();
  st->backend = zm__be.pub.name ? zm__be.pub.name : "user";
  st->used = clamp(t.bytes);
  st->peak = peak_of(&t);
  st->live_blocks = clamp(t.blocks);
  st->malloc_calls = t.calls[ZM__CALL_MALLOC];
  st->calloc_calls = t.calls[ZM__CALL_CALLOC];
  st->realloc_calls = t.calls[ZM__CALL_REALLOC];
  st->aligned_calls = t.calls[ZM__CALL_ALIGNED];
  st->free_calls = t.calls[ZM__CALL_FREE];
  st->failures = t.calls[ZM__CALL_FAILURE];
  st->realloc_moved = t.calls[ZM__CALL_MOVED];
  return 0;
}
