/* zmem/sqlite.h: SQLite's allocator on zmem, under one tag.
 *
 *   zm_tag tag = zm_tag_new("sqlite");   (first, before anything allocates)
 *   if (zm_sqlite_install(tag) != SQLITE_OK) ...   (before sqlite3_initialize)
 *
 * Header-only: libzmem does not depend on SQLite; include this header in the
 * program that links both. Every block SQLite allocates goes to `tag` on the
 * try path: SQLite receives NULL when memory or a limit refuses it and
 * reports SQLITE_NOMEM itself; zmem's OOM handler is never called.
 *
 * sqlite3_mem_methods has no user pointer for its allocation functions, so
 * the tag lives in a static variable of the file that calls
 * zm_sqlite_install (the functions installed are that file's copies).
 *
 * xSize is zm_usable_size, so sqlite3_memory_used() (which SQLite sums from
 * xSize) and the tag agree exactly: with tags on (header layout),
 *   sqlite3_memory_used() == tag's used - ZM_HEADER_SIZE * tag's live_blocks
 * and SQLITE_STATUS_MALLOC_COUNT equals the tag's live blocks. */
#ifndef ZMEM_SQLITE_H
#define ZMEM_SQLITE_H

#include <zmem.h>

#include <sqlite3.h>
#include <stddef.h>

static zm_tag zm__sqlite_tag;

static inline void *zm__sqlite_malloc(int n) {
  return n > 0 ? zm_try_malloc_tag(zm__sqlite_tag, (size_t)n) : NULL;
}

static inline void zm__sqlite_free(void *p) { zm_free(p); }

/* SQLite never passes NULL or a size <= 0 here; both are handled anyway
 * without freeing anything. */
static inline void *zm__sqlite_realloc(void *p, int n) {
  if (n <= 0)
    return NULL;
  return p ? zm_try_realloc(p, (size_t)n) : zm__sqlite_malloc(n);
}

static inline int zm__sqlite_size(void *p) { return (int)zm_usable_size(p); }

/* SQLite uses this to size its own pools; any value >= n is correct. */
static inline int zm__sqlite_roundup(int n) {
  return n > 0 && n <= 0x7ffffff0 ? (n + 15) & ~15 : n;
}

static inline int zm__sqlite_init(void *ud) {
  (void)ud;
  return SQLITE_OK;
}

static inline void zm__sqlite_shutdown(void *ud) { (void)ud; }

/* Makes zmem SQLite's allocator, every block under `tag`. Call it before
 * sqlite3_initialize (or after sqlite3_shutdown). Returns sqlite3_config's
 * code: SQLITE_OK, or SQLITE_MISUSE when SQLite is already initialised
 * (nothing changes then). Not thread-safe, like sqlite3_config. */
static inline int zm_sqlite_install(zm_tag tag) {
  static const sqlite3_mem_methods methods = {
      zm__sqlite_malloc, zm__sqlite_free,  zm__sqlite_realloc,
      zm__sqlite_size,   zm__sqlite_roundup, zm__sqlite_init,
      zm__sqlite_shutdown, NULL};
  int rc = sqlite3_config(SQLITE_CONFIG_MALLOC, &methods);
  if (rc == SQLITE_OK)
    zm__sqlite_tag = tag;
  return rc;
}

#endif /* ZMEM_SQLITE_H */
