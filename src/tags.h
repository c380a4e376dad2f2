/* Tags: the registry of named tags and their per-thread counters. A tagged
 * block counts into its tag and every ancestor, so each tag's figures include
 * its descendants'. */
#ifndef ZM_TAGS_H
#define ZM_TAGS_H

#include "internal.h"
#include "stats.h"
#include "zmem.h"

/* The calling thread's current tag (zm_tag_set_current). */
extern __thread zm_tag zm__cur_tag __attribute__((tls_model("initial-exec")));

/* tag itself, then its ancestors up to the root; returns how many. */
unsigned zm__tag_chain(zm_tag tag, const zm_tag **chain);

/* zm_tag_new's checks: a name, and a parent that is ZM_TAG_INVALID (none)
 * or a tag with room for a child; false with errno EINVAL otherwise. */
bool zm__tag_args_ok(zm_tag parent, const char *name);
/* Registers a tag (zm_tag_new, in layout.c, turns tags on first); returns it,
 * or ZM_TAG_INVALID with errno ENOSPC when there are ZM_TAG_MAX. */
zm_tag zm__tag_define(zm_tag parent, const char *name);

/* tag if registered, else ZM_TAG_DEFAULT. */
zm_tag zm__tag_valid(zm_tag tag);

/* Counts one call on tag and its ancestors for the calling thread: the
 * general path, for any tag and any thread. Each level's count that stays
 * inside the window of the thread's set for it is plain updates; one that
 * leaves it publishes, records a candidate, and (root tags only) opens the
 * window again. */
zm__hidden void zm__tags_count(zm_tag tag, int64_t bytes, int64_t blocks,
                               bool failure);

/* The total and a tag together, for the header layout's fast path: true
 * when both counts stay inside their windows (the thread's and that of its
 * set for the tag), and then counted; false, with nothing counted, when
 * either would leave its window, for zm__count_tagged_slow_p: a nested
 * tag (its window never opens), a thread without sets yet or past its exit
 * hook (its slot's tags are NULL), a new high, a granule crossed, a reset.
 * Nothing is called, so the callers keep no value across a call. tag: a
 * registered tag. */
static zm__hot_inline bool zm__count_tagged_fast(int64_t bytes, int64_t blocks,
                                                 zm__call call, zm_tag tag) {
  zm__slot *s = zm__my_slot;
  zm__tagset *sets = atomic_load_explicit(&s->tags, memory_order_relaxed);
  int64_t b = atomic_load_explicit(&s->total.bytes, memory_order_relaxed) +
              bytes;
  uint64_t off =
      (uint64_t)b - (uint64_t)atomic_load_explicit(&s->lo,
                                                   memory_order_relaxed);
  if (zm__unlikely(off > s->span || sets == NULL))
    return false;
  zm__tagset *ts = &sets[tag];
  int64_t tb =
      atomic_load_explicit(&ts->c.bytes, memory_order_relaxed) + bytes;
  uint64_t toff =
      (uint64_t)tb - (uint64_t)atomic_load_explicit(&ts->lo,
                                                    memory_order_relaxed);
  if (zm__unlikely(toff > ts->span))
    return false;
  atomic_store_explicit(&s->total.bytes, b, memory_order_relaxed);
  zm__relaxed_add(&s->total.blocks, blocks);
  zm__relaxed_inc(&s->calls[call]);
  atomic_store_explicit(&ts->c.bytes, tb, memory_order_relaxed);
  zm__relaxed_add(&ts->c.blocks, blocks);
  zm__relaxed_inc(&ts->calls);
  return true;
}

/* Counts what zm__count_tagged_fast refused: the total, then the tag's
 * chain, each through its general path. Returns p (an allocation's slow
 * count is then a tail call). */
zm__hidden void *zm__count_tagged_slow_p(void *p, int64_t bytes,
                                         int64_t blocks,
                                         zm__call call, zm_tag tag);

/* zm_reset_peak (registry lock held): shuts the windows of s's tag sets,
 * so that each takes the general path on its next count. */
void zm__tags_shut_windows(zm__slot *s);

/* Thread exit (registry lock held): moves s's tag counters to the shared
 * totals. zm__tags_release then unmaps them. */
void zm__tags_fold(zm__slot *s);
void zm__tags_release(zm__slot *s);

/* zm_tag_stats without the limit (limits.c adds it): 0, or -1 with errno
 * EINVAL. */
int zm__tag_stats_counts(zm_tag tag, zm_tag_info *info);

/* Tags turned on after the first allocation (header layout): the live
 * blocks, all with tag 0 in their headers, are counted into tag 0. */
void zm__tags_adopt_untagged(size_t bytes, size_t blocks);

/* Every tag's peak restarts from its current figure. */
void zm__tags_reset_peaks(void);

#endif
