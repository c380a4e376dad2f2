/* The debug layout: each block carries a header with a magic word, its size,
 * tag and allocation site, links into the live-block list, and guard bytes
 * on both sides of the user block; freed blocks wait in a bounded quarantine
 * filled with a pattern, so that writes after free show when they leave it.
 *
 *   backend block: [pad][zm__dbg][front guard][user: size][rear guard]
 *
 * Any inconsistency found on free, realloc or zm_debug_check_all is
 * reported in one line on stderr, then the process aborts. */
#ifndef ZM_DEBUG_H
#define ZM_DEBUG_H

#include "internal.h"
#include "line.h"
#include "zmem.h"

/* Where a block was allocated or freed: a file and line, or (file NULL) the
 * return address of the call (0: unknown). */
typedef struct zm__site {
  const char *file;
  uintptr_t where;
} zm__site;

/* Appends the site: "file:line", or the address with its symbol. */
void zm__site_put(zm__line *l, zm__site s);

/* One live block, as the leak report sees it. */
typedef struct zm__live {
  zm__site site;
  size_t size;
} zm__live;

/* Copies up to max live blocks to out (NULL with max 0 just counts);
 * returns how many are live. */
size_t zm__dbg_snapshot(zm__live *out, size_t max);

/* A new block of n bytes (n > 0), aligned to `alignment` (0: the minimum),
 * filled with ZM_DEBUG_FILL_ALLOC or zeroed, linked as live. *bytes: what
 * the backend holds for it. NULL when the backend fails. */
void *zm__dbg_new(size_t n, size_t alignment, bool zero, zm_tag tag,
                  size_t *bytes);

/* Checks a block passed to free or realloc (`op`): aborts with a report if
 * it is not a live, intact block. */
void zm__dbg_check(const void *p, const char *op);

/* A live block's figures (checked first). */
size_t zm__dbg_bytes(const void *p);
size_t zm__dbg_size(const void *p);
zm_tag zm__dbg_tag(const void *p);

/* Unlinks the block, fills it with ZM_DEBUG_FILL_FREE and quarantines it;
 * the oldest quarantined blocks go back to the backend, checked, once the
 * quarantine holds more than its size. */
void zm__dbg_release(void *p);

/* The calling thread's next allocation site: the return address of the
 * public call in progress. Set by the front-end in the debug layout only. */
void zm__dbg_note_caller(void *pc);


#endif
