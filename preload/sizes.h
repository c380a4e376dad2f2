/* The live blocks: each one's requested size (the lean layout stores none)
 * and, when the run records allocation sites, the stack-table entry it was
 * counted in. Thread-safe (a block's put and remove ordered by the
 * program's hand-over of the pointer); never calls malloc (tables come
 * from mmap). */
#ifndef ZMP_SIZES_H
#define ZMP_SIZES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A block's site: its stack-table entry and the weights its allocation
 * added there (1 and its size, or a sampled estimate), so that the free
 * subtracts exactly that. count 0: the block has no site. */
typedef struct zmp_site {
  uint32_t entry; /* stack-table index (UINT32_MAX: the overflow entry) */
  uint32_t count; /* blocks the allocation stands for, at least 1 */
  uint64_t bytes; /* bytes the allocation stands for */
} zmp_site;

/* Remembers that p, whose usable size is held, was requested with
 * `requested` bytes, and its site (NULL or count 0: none); replaces an old
 * entry. True when the entry and the site were both stored. When no memory
 * is left for the table the entry is dropped (the free then finds the
 * block unseen), or only the site is (the caller leaves the block out of
 * the stack table). Blocks start 16 bytes apart at least. */
bool zmp_sizes_put(const void *p, size_t requested, size_t held,
                   const zmp_site *site);

/* The slack of a block whose slack was too large to keep (the entry's
 * 20-bit field, all ones): it counts as requested = usable. */
#define ZMP_SLACK_UNKNOWN (((size_t)1 << 20) - 1)
/* What zmp_sizes_remove returns for a block it has no entry for. */
#define ZMP_UNSEEN SIZE_MAX

/* Removes p's entry and returns its slack (usable minus requested bytes,
 * or ZMP_SLACK_UNKNOWN); ZMP_UNSEEN for a block zmem never saw (nothing
 * about p is read then). *site gets p's site (count 0: none). */
size_t zmp_sizes_remove(const void *p, zmp_site *site);

/* The requested size of a block of usable size held and that slack. */
static inline size_t zmp_sizes_requested(size_t held, size_t slack) {
  return slack < ZMP_SLACK_UNKNOWN && slack <= held ? held - slack : held;
}

/* zmp_sizes_remove, then p's requested size given its usable size (held
 * itself when p has no entry). */
size_t zmp_sizes_take(const void *p, size_t held, zmp_site *site);

/* Reports the highest number of bytes the table has mapped (the entries
 * and the site arrays) to *out from now on, starting from what is mapped
 * now; NULL: nowhere. */
void zmp_sizes_report_to(uint64_t *out);

/* Around fork: take every lock, release them in both processes. In a fork
 * child the sites are forgotten (they belong to the parent's stack table);
 * the requested sizes stay. */
void zmp_sizes_prepare_fork(void);
void zmp_sizes_after_fork(bool child);

#endif
