/* zmem/jansson.h: Jansson on zmem, under one tag.
 *
 *   zm_jansson_install(zm_tag_new("jansson"));   (before any other Jansson call)
 *
 * Header-only: libzmem does not depend on Jansson. Every block Jansson
 * allocates goes to the tag on the try path: Jansson receives NULL and
 * returns NULL from the call that needed memory (json_object, json_loads,
 * json_dumps, ...); zmem's OOM handler is never called.
 *
 * json_set_alloc_funcs takes no user pointer, so the tag lives in a static
 * variable of the file that calls zm_jansson_install (the functions
 * installed are that file's copies). Jansson does not refuse a late call,
 * and a value it made with malloc must never reach zm_free: install before
 * the first Jansson call of the process. */
#ifndef ZMEM_JANSSON_H
#define ZMEM_JANSSON_H

#include <zmem.h>

#include <jansson.h>

#include <stddef.h>

static zm_tag zm__jansson_tag;

static inline void *zm__jansson_malloc(size_t n) {
  return zm_try_malloc_tag(zm__jansson_tag, n);
}

static inline void zm__jansson_free(void *p) { zm_free(p); }

/* Makes zmem Jansson's allocator, every block under `tag`. */
static inline void zm_jansson_install(zm_tag tag) {
  zm__jansson_tag = tag;
  json_set_alloc_funcs(zm__jansson_malloc, zm__jansson_free);
}

#endif /* ZMEM_JANSSON_H */
