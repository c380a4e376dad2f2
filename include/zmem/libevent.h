/* zmem/libevent.h: libevent's allocator on zmem, under one tag.
 *
 *   zm_tag tag = zm_tag_new("libevent");
 *   zm_event_install(tag);     (before any other libevent call)
 *
 * Header-only: libzmem does not depend on libevent. Every block libevent
 * allocates (event bases, events, buffers, evhttp, evdns) goes to `tag` on
 * the try path: libevent receives NULL and handles it; zmem's OOM handler is
 * never called.
 *
 * event_set_mem_functions takes no user pointer, so the tag lives in a static
 * variable of the file that calls zm_event_install (the functions installed
 * are that file's copies).
 *
 * libevent cannot tell whether it has allocated already, and a block it got
 * from malloc must not reach zm_free: install before the first libevent call
 * of the process (event_base_new, evutil_*, evbuffer_new, ...). */
#ifndef ZMEM_LIBEVENT_H
#define ZMEM_LIBEVENT_H

#include <zmem.h>

#include <event2/event.h>

#include <errno.h>
#include <stddef.h>

static zm_tag zm__event_tag;

/* libevent never asks for 0 bytes here (its mm_malloc returns NULL first). */
static inline void *zm__event_malloc(size_t n) {
  return zm_try_malloc_tag(zm__event_tag, n);
}

/* realloc(NULL, n) allocates under the tag; realloc(p, 0) frees p and
 * returns NULL, like the C library's realloc. */
static inline void *zm__event_realloc(void *p, size_t n) {
  return p ? zm_try_realloc(p, n) : zm_try_malloc_tag(zm__event_tag, n);
}

static inline void zm__event_free(void *p) { zm_free(p); }

/* Makes zmem libevent's allocator, every block under `tag`. 0, or -1 with
 * errno ENOTSUP when libevent was built without allocator replacement
 * (EVENT__DISABLE_MM_REPLACEMENT). Call it before any other libevent call. */
static inline int zm_event_install(zm_tag tag) {
#ifdef EVENT__DISABLE_MM_REPLACEMENT
  (void)tag;
  errno = ENOTSUP;
  return -1;
#else
  zm__event_tag = tag;
  event_set_mem_functions(zm__event_malloc, zm__event_realloc, zm__event_free);
  return 0;
#endif
}

#endif /* ZMEM_LIBEVENT_H */
