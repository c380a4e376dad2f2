/* Tags: registry, per-thread tag counters, and the per-tag figures. */
#include "fork.h"
#include "tags.h"
#include "prim/prim.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#define NAME_MAX_LEN 63

typedef struct tagdef {
  zm__cshared shared; /* first: its own cache line */
  _Atomic uint64_t folded_calls, folded_failures;
  char name[NAME_MAX_LEN + 1];
  zm_tag parent;
  unsigned depth;
  zm_tag chain[ZM_TAG_DEPTH_MAX]; /* self, parent, ..., root */
} tagdef;

static tagdef defs[ZM_TAG_MAX] = {
    [0] = {.name = "untagged", .parent = ZM_TAG_INVALID, .depth = 1},
};
static _Atomic uint32_t ntags = 1;
static pthread_mutex_t new_mutex = PTHREAD_MUTEX_INITIALIZER;


__thread zm_tag zm__cur_tag __attribute__((tls_model("initial-exec")));

static const size_t sets_bytes = sizeof(zm__tagset) * ZM_TAG_MAX;

static uint32_t count(void) {
  return atomic_load_explicit(&ntags, memory_order_acquire);
}

zm_tag zm__tag_valid(zm_tag tag) { return tag < count() ? tag : 0; }

unsigned zm__tag_chain(zm_tag tag, const zm_tag **chain) {
  *chain = defs[tag].chain;
  return defs[tag].depth;
}

/* --------------------------------------------------------- registration */

static zm_tag define(zm_tag parent, const char *name) {
  uint32_t n = atomic_load_explicit(&ntags, memory_order_relaxed);
  if (n == ZM_TAG_MAX) {
    errno = ENOSPC;
    return ZM_TAG_INVALID;
  }
  tagdef *d = &defs[n];
  strncpy(d->name, name, NAME_MAX_LEN);
  d->parent = parent;
  d->depth = 1;
  d->chain[0] = n;
  if (parent != ZM_TAG_INVALID) {
    d->depth = defs[parent].depth + 1;
    memcpy(d->chain + 1, defs[parent].chain,
           defs[parent].depth * sizeof(zm_tag));
  }
  atomic_store_explicit(&ntags, n + 1, memory_order_release);
  return n;
}

static bool parent_ok(zm_tag parent) {
  return parent == ZM_TAG_INVALID ||
         (parent < count() && defs[parent].depth < ZM_TAG_DEPTH_MAX);
}

bool zm__tag_args_ok(zm_tag parent, const char *name) {
  if (!name || !*name || !parent_ok(parent)) {
    errno = EINVAL;
    return false;
  }
  return true;
}

zm_tag zm__tag_define(zm_tag parent, const char *name) {
  pthread_mutex_lock(&new_mutex);
  zm_tag t = define(parent, name);
  pthread_mutex_unlock(&new_mutex);
  return t;
}

size_t zm_tag_count(void) { return count(); }

zm_tag zm_tag_set_current(zm_tag tag) {
  zm_tag prev = zm__cur_tag;
  if (tag >= count()) {
    errno = EINVAL;
    return prev;
  }
  zm__cur_tag = tag;
  return prev;
}

zm_tag zm_tag_current(void) { return zm__cur_tag; }

/* ------------------------------------------------------------- counting */

/* Another thread's sets (or the owner's), NULL if it has none yet. */
static zm__tagset *sets_of(zm__slot *s) {
  return atomic_load_explicit(&s->tags, memory_order_acquire);
}

/* Every window starts shut: the first count of each tag opens it. */
static zm__tagset *my_sets(zm__slot *s) {
  zm__tagset *sets = atomic_load_explicit(&s->tags, memory_order_relaxed);
  if (zm__likely(sets))
    return sets;
  sets = zm__prim_map(sets_bytes);
  if (!sets)
    return NULL;
  for (size_t t = 0; t < ZM_TAG_MAX; t++)
    atomic_store_explicit(&sets[t].lo, ZM__WINDOW_SHUT, memory_order_relaxed);
  atomic_store_explicit(&s->tags, sets, memory_order_release);
  return sets;
}

/* A thread past its exit hook, or without memory for its sets, counts
 * straight into the shared totals. */
static void count_shared(tagdef *d, int64_t bytes, int64_t blocks,
                         bool failure) {
  zm__shared_add(&d->shared, bytes, blocks);
  atomic_fetch_add(&d->folded_calls, 1);
  if (failure)
    atomic_fetch_add(&d->folded_failures, 1);
}

/* One level of a count, into the thread's set ts for tag t: inside the
 * window as in zm__count_tagged_fast; outside it, the window's slow path (a root
 * tag's window opens again, a nested tag's stays shut). */
static void set_count(zm__tagset *ts, zm_tag t, int64_t bytes, int64_t blocks,
                      bool failure) {
  int64_t lo0 = atomic_load(&ts->lo); /* before the epoch: zm__window_left */
  uint64_t e = atomic_load(&zm__peak_epoch);
  int64_t b = atomic_load_explicit(&ts->c.bytes, memory_order_relaxed) + bytes;
  atomic_store_explicit(&ts->c.bytes, b, memory_order_relaxed);
  zm__relaxed_add(&ts->c.blocks, blocks);
  zm__relaxed_inc(&ts->calls); /* failed calls too, as in zm_stats */
  if (failure)
    zm__relaxed_inc(&ts->failures);
  if ((uint64_t)b - (uint64_t)lo0 > ts->span)
    zm__window_left(&ts->lo, &ts->span, &ts->c, &ts->mark, &defs[t].shared,
                    b, lo0, e, defs[t].depth == 1);
}

void zm__tags_count(zm_tag tag, int64_t bytes, int64_t blocks, bool failure) {
  zm__slot *s = zm__own_slot();
  zm__tagset *sets = s ? my_sets(s) : NULL;
  const tagdef *d = &defs[tag];
  for (unsigned i = 0; i < d->depth; i++) {
    zm_tag t = d->chain[i];
    if (sets)
      set_count(&sets[t], t, bytes, blocks, failure);
    else
      count_shared(&defs[t], bytes, blocks, failure);
  }
}

void *zm__count_tagged_slow_p(void *p, int64_t bytes, int64_t blocks,
                              zm__call call, zm_tag tag) {
  zm__count(bytes, blocks, call);
  zm__tags_count(tag, bytes, blocks, false);
  return p;
}

void zm__tags_shut_windows(zm__slot *s) {
  zm__tagset *sets = sets_of(s);
  if (!sets)
    return;
  for (uint32_t t = 0; t < count(); t++)
    atomic_store(&sets[t].lo, ZM__WINDOW_SHUT);
}

void zm__tags_fold(zm__slot *s) {
  zm__tagset *sets = sets_of(s);
  if (!sets)
    return;
  for (uint32_t t = 0; t < count(); t++) {
    atomic_store(&sets[t].lo, ZM__WINDOW_SHUT);
    sets[t].c.unpublished =
        atomic_load_explicit(&sets[t].c.bytes, memory_order_relaxed) -
        sets[t].mark.base;
    zm__fold_set(&sets[t].c, &defs[t].shared);
    atomic_fetch_add(&defs[t].folded_calls, atomic_load(&sets[t].calls));
    atomic_fetch_add(&defs[t].folded_failures, atomic_load(&sets[t].failures));
  }
}

/* Registry lock held: no reader can reach the sets while they go. */
void zm__tags_release(zm__slot *s) {
  zm__prim_unmap(atomic_exchange(&s->tags, NULL), sets_bytes);
}

/* -------------------------------------------------------------- readers */

static zm__cset *pick_tag(zm__slot *s, void *arg) {
  zm__tagset *sets = sets_of(s);
  return sets ? &sets[*(zm_tag *)arg].c : NULL;
}

static size_t clamp(int64_t v) { return v > 0 ? (size_t)v : 0; }

size_t zm_tag_used(zm_tag tag) {
  if (tag >= count())
    return 0;
  zm__sum t;
  zm__sum_sets(&defs[tag].shared, pick_tag, &tag, &t);
  return clamp(t.bytes);
}

typedef struct call_sums {
  zm_tag tag;
  uint64_t calls, failures;
} call_sums;

static void add_calls(zm__slot *s, void *arg) {
  call_sums *c = arg;
  zm__tagset *sets = sets_of(s);
  if (!sets)
    return;
  c->calls += atomic_load_explicit(&sets[c->tag].calls, memory_order_relaxed);
  c->failures +=
      atomic_load_explicit(&sets[c->tag].failures, memory_order_relaxed);
}

int zm__tag_stats_counts(zm_tag tag, zm_tag_info *info) {
  if (!info || info->size < sizeof(zm_tag_info) || tag >= count()) {
    errno = EINVAL;
    return -1;
  }
  const tagdef *d = &defs[tag];
  call_sums c = {tag, atomic_load(&d->folded_calls),
                 atomic_load(&d->folded_failures)};
  zm__each_slot(add_calls, &c);
  zm__sum t;
  zm__sum_sets(&d->shared, pick_tag, &tag, &t);
  info->version = ZM_TAG_INFO_VERSION;
  info->tag = tag;
  info->parent = d->parent;
  info->name = d->name;
  info->depth = d->depth;
  info->used = clamp(t.bytes);
  info->live_blocks = clamp(t.blocks);
  info->peak = clamp(t.peak);
  info->calls = c.calls;
  info->failures = c.failures;
  return 0;
}

void zm__tags_adopt_untagged(size_t bytes, size_t blocks) {
  zm__shared_add(&defs[0].shared, (int64_t)bytes, (int64_t)blocks);
}

void zm__tags_reset_peaks(void) {
  for (zm_tag t = 0; t < count(); t++) {
    zm__sum s;
    zm__sum_sets(&defs[t].shared, pick_tag, &t, &s);
    atomic_store(&defs[t].shared.peak, s.bytes);
  }
}

void zm__tags_fork_lock(void) { pthread_mutex_lock(&new_mutex); }
void zm__tags_fork_unlock(void) { pthread_mutex_unlock(&new_mutex); }
