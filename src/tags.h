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

/* tag if registered, else ZM_TAG_DEFAULT. */
zm_tag zm__tag_valid(zm_tag tag);

/* Counts one call on tag and its ancestors for the calling thread. */
void zm__tags_count(zm_tag tag, int64_t bytes, int64_t blocks, bool failure);

/* Thread exit (registry lock held): moves s's tag counters to the shared
 * totals. zm__tags_release then unmaps them. */
void zm__tags_fold(zm__slot *s);
void zm__tags_release(zm__slot *s);

/* Tags turned on after the first allocation (header layout): the live
 * blocks, all with tag 0 in their headers, are counted into tag 0. */
void zm__tags_adopt_untagged(size_t bytes, size_t blocks);

/* Every tag's peak restarts from its current figure. */
void zm__tags_reset_peaks(void);

#endif
