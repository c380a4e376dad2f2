/* Set-up: the layout choice, fixed at the first allocation. */
#include "layout.h"
#include "backend.h"
#include "last_error.h"
#include "prim/prim.h"
#include "stats.h"
#include "tags.h"
#include "vg.h"

#include <errno.h>
#include <pthread.h>

static bool tags_on;

/* The lean layout needs the backend's size query, whatever was asked. */
static zm_layout choose(void) {
  if (zm__layout_wanted == ZM_LAYOUT_DEBUG)
    return ZM_LAYOUT_DEBUG;
  if (zm__layout_wanted == ZM_LAYOUT_HEADER || !zm__be_has_usable())
    return ZM_LAYOUT_HEADER;
  return ZM_LAYOUT_LEAN;
}

int zm__freeze(void (*apply_env)(void)) {
  zm__setup_lock();
  if (!zm__setup_frozen()) {
    apply_env();
    zm__stats_init();
    zm_layout layout = choose();
    int flags = tags_on ? ZM__MODE_TAGS : 0;
    if (!zm__be_direct())
      flags |= ZM__MODE_USER_BACKEND;
    /* memcheck follows header blocks through requests that only the
     * general path makes (vg.h) */
    if (layout == ZM_LAYOUT_HEADER && zm__vg_memcheck())
      flags |= ZM__MODE_MEMCHECK;
    atomic_fetch_or_explicit(&zm__mode, (int)layout | flags,
                             memory_order_release);
  }
  zm__setup_unlock();
  return atomic_load_explicit(&zm__mode, memory_order_acquire);
}

zm_layout zm__layout_report(void) {
  zm__setup_lock();
  int l = atomic_load_explicit(&zm__mode, memory_order_relaxed) &
          ZM__MODE_LAYOUT;
  zm_layout r = l ? (zm_layout)l : choose();
  zm__setup_unlock();
  return r;
}

int zm__request_layout_locked(zm_layout layout) {
  if (zm__setup_frozen()) {
    errno = EBUSY;
    return -1;
  }
  if (layout == ZM_LAYOUT_LEAN && tags_on) {
    errno = EBUSY; /* tags need the header layout */
    return -1;
  }
  if (layout == ZM_LAYOUT_LEAN && !zm__be_has_usable()) {
    errno = ENOTSUP;
    return -1;
  }
  zm__layout_wanted = layout;
  return 0;
}

int zm_set_layout(zm_layout layout) {
  if (layout != ZM_LAYOUT_LEAN && layout != ZM_LAYOUT_HEADER &&
      layout != ZM_LAYOUT_DEBUG) {
    errno = EINVAL;
    return -1;
  }
  zm__setup_lock();
  int rc = zm__request_layout_locked(layout);
  zm__setup_unlock();
  return rc;
}

bool zm__tags_possible_locked(void) {
  return tags_on || !zm__setup_frozen() ||
         (atomic_load(&zm__mode) & ZM__MODE_LAYOUT) == ZM_LAYOUT_HEADER;
}

/* In a header layout already in force, the blocks allocated so far carry
 * tag 0 in their headers: they are counted into it as tags start, so the
 * root tags keep adding up to the total. */
static void tags_start_late(void) {
  zm__tags_adopt_untagged(zm_used_memory(), zm__live_blocks());
  atomic_fetch_or(&zm__mode, ZM__MODE_TAGS);
}

int zm__tags_enable_locked(void) {
  if (tags_on)
    return 0;
  if (!zm__tags_possible_locked()) {
    zm__set_last_error("tags need the header layout, and the first allocation "
                       "fixed the lean layout: enable tags, or ask for "
                       "layout=header, before allocating");
    errno = EBUSY;
    return -1;
  }
  if (zm__setup_frozen())
    tags_start_late();
  if (zm__layout_wanted != ZM_LAYOUT_DEBUG) /* it has room for the tag too */
    zm__layout_wanted = ZM_LAYOUT_HEADER;
  tags_on = true;
  return 0;
}

int zm_debug_enable(void) { return zm_set_layout(ZM_LAYOUT_DEBUG); }

int zm_tags_enable(void) {
  zm__setup_lock();
  int rc = zm__tags_enable_locked();
  zm__setup_unlock();
  return rc;
}

/* Tags turn on (the layout's concern) before the first one is defined. */
static zm_tag tag_new(zm_tag parent, const char *name) {
  if (!zm__tag_args_ok(parent, name))
    return ZM_TAG_INVALID;
  if (zm_tags_enable() != 0)
    return ZM_TAG_INVALID; /* EBUSY: the lean layout is fixed */
  return zm__tag_define(parent, name);
}

zm_tag zm_tag_new(const char *name) { return tag_new(ZM_TAG_INVALID, name); }

zm_tag zm_tag_new_child(zm_tag parent, const char *name) {
  if (parent == ZM_TAG_INVALID) {
    errno = EINVAL;
    return ZM_TAG_INVALID;
  }
  return tag_new(parent, name);
}

/* tags_on only changes before the layout is fixed, under the set-up lock;
 * allocation paths test the layout instead. */
int zm_tags_enabled(void) {
  zm__setup_lock();
  int on = tags_on;
  zm__setup_unlock();
  return on;
}

