/* The live blocks that have a stack-table entry, keyed by address: which
 * entry, and the weights their allocation added (1 and the size, or a
 * sampled estimate), so that the free subtracts exactly that. Thread-safe;
 * never calls malloc (tables come from mmap). */
#ifndef ZMP_BLOCKS_H
#define ZMP_BLOCKS_H

#include <stddef.h>
#include <stdint.h>

typedef struct zmp_block {
  uint32_t entry;  /* stack-table index (UINT32_MAX: overflow) */
  uint32_t count;  /* blocks the allocation stands for */
  uint64_t bytes;  /* bytes the allocation stands for */
} zmp_block;

/* Remembers p's block; false when no memory is left for the table (the
 * caller then leaves the allocation out of the stack table too). */
int zmp_blocks_put(const void *p, zmp_block b);

/* Removes p: 1 and *b when it was there, else 0. */
int zmp_blocks_take(const void *p, zmp_block *b);

/* Around fork: every lock taken before, released after; in the child the
 * table is emptied (its blocks belong to the parent's stack table). */
void zmp_blocks_prepare_fork(void);
void zmp_blocks_after_fork(int child);

#endif
