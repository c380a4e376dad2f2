/* Heap against RSS, read by the process at its exit (heaprss.c). */
#ifndef ZMP_HEAPRSS_H
#define ZMP_HEAPRSS_H

/* Fills the process record's heap_rss words. Takes no lock, keeps errno,
 * allocates nothing. */
void zmp_heap_rss_exit(void);

#endif
