/* Heap against RSS, read by the process at its exit (heaprss.c). */
#ifndef ZMP_HEAPRSS_H
#define ZMP_HEAPRSS_H

#include <stdbool.h>

/* Fills the process record's heap_rss words. allocator_free: the thread
 * is not inside an allocation call, so the allocator's statistics (which
 * take its locks) can be read. Keeps errno; allocates nothing. */
void zmp_heap_rss_exit(bool allocator_free);

#endif
