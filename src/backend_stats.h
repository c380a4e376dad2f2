/* The compiled-in allocator's own figures, for zm_get_sys_stats. */
#ifndef ZM_BACKEND_STATS_H
#define ZM_BACKEND_STATS_H

#include "zmem.h"

/* Fills st->backend and the st->backend_* fields from the compiled-in
 * allocator (jemalloc, mimalloc, tcmalloc or the C library); figures it
 * does not report are 0. Does not allocate through zmem. */
void zm__backend_stats(zm_sys_stats *st);

#endif
