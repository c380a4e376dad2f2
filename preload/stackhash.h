/* The hash of a stack (its return addresses, innermost first), shared by
 * the stack table (stacktab.c) and the capture (unwind.c), which computes
 * it while it walks. Not a stable format: the table stores it only to
 * speed up its own look-ups. */
#ifndef ZM_PRELOAD_STACKHASH_H
#define ZM_PRELOAD_STACKHASH_H

#include <stddef.h>
#include <stdint.h>

#define ZM__STACK_HASH_SEED UINT64_C(0x9e3779b97f4a7c15)

static inline uint64_t zm__stack_hash_step(uint64_t h, uintptr_t pc) {
  return (h ^ (uint64_t)pc) * UINT64_C(0xff51afd7ed558ccd);
}

/* The hash of a stack of depth frames, from the steps over its frames. */
static inline uint64_t zm__stack_hash_end(uint64_t h, size_t depth) {
  h ^= (uint64_t)depth;
  h ^= h >> 32;
  h *= UINT64_C(0xc4ceb9fe1a85ec53);
  return h ^ (h >> 29);
}

static inline uint64_t zm__stack_hash(const uintptr_t *pcs, size_t depth) {
  uint64_t h = ZM__STACK_HASH_SEED;
  for (size_t i = 0; i < depth; i++)
    h = zm__stack_hash_step(h, pcs[i]);
  return zm__stack_hash_end(h, depth);
}

#endif
