/* The requested size of each live block (the lean layout stores none).
 * Thread-safe; never calls malloc. */
#ifndef ZMP_SIZES_H
#define ZMP_SIZES_H

#include <stddef.h>

/* Remembers that p was requested with size bytes (replaces an old entry).
 * When no memory is left for the table the entry is dropped, and the free
 * counts the usable size instead. */
void zmp_sizes_put(const void *p, size_t size);

/* Removes p's entry: 1 and *size when found, 0 otherwise. */
int zmp_sizes_take(const void *p, size_t *size);

/* Around fork: take every lock, release them in both processes. */
void zmp_sizes_prepare_fork(void);
void zmp_sizes_after_fork(void);

#endif
