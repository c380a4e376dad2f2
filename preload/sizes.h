/* The requested size of each live block (the lean layout stores none).
 * Thread-safe; never calls malloc. */
#ifndef ZMP_SIZES_H
#define ZMP_SIZES_H

#include <stddef.h>

/* Remembers that p, whose usable size is held, was requested with
 * `requested` bytes (replaces an old entry). When no memory is left for the
 * table the entry is dropped, and the free counts the usable size. */
void zmp_sizes_put(const void *p, size_t requested, size_t held);

/* Removes p's entry and returns its requested size, given its usable size
 * (held itself when p has no entry). */
size_t zmp_sizes_take(const void *p, size_t held);

/* Around fork: take every lock, release them in both processes. */
void zmp_sizes_prepare_fork(void);
void zmp_sizes_after_fork(void);

#endif
