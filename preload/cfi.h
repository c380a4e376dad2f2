/* Unwind rules from the call-frame information (.eh_frame) of x86-64 code,
 * cached by address, for the stack capture's fast walk (unwind.c).
 *
 * For an address in a function, the rule says how to recover the caller's
 * frame there: the canonical frame address (CFA) is RSP or RBP plus an
 * offset, the return address lies at CFA plus an offset, and the caller's
 * RBP is either unchanged or saved at CFA plus an offset. The caller's RSP
 * is the CFA. That covers the code compilers write, with or without frame
 * pointers; anything else (signal trampolines, a CFA or a register given by
 * a DWARF expression or held in another register, a missing unwind table)
 * is "unsupported", and the capture then takes libunwind's path.
 *
 * A rule is computed once per address from the function's FDE, found
 * through the module's .eh_frame_hdr search table (modules.h), by a small
 * interpreter of the CFA instructions, and kept in a process-wide,
 * insert-only, lock-free hash table: a look-up is a hash and a few loads.
 * Nothing here allocates (the table comes from mmap), so the capture can
 * use it inside malloc.
 *
 * Code that dlclose unloads, replaced by other code at the same address,
 * keeps its old rules; the walk's stack-bound checks keep such a stale rule
 * from reading outside the stack, but that stack may be wrong.
 *
 * On other architectures (ZM__CFI_WALK 0) every rule is "unsupported". */
#ifndef ZM_PRELOAD_CFI_H
#define ZM_PRELOAD_CFI_H

#include <stdatomic.h>
#include <stdint.h>

/* 1 where the capture walks by CFI rules (x86-64). ZM_PRELOAD_NO_CFI turns
 * it off, so that the other architectures' path can be built and tested
 * on x86-64 too. */
#if defined(__x86_64__) && !defined(ZM_PRELOAD_NO_CFI)
#  define ZM__CFI_WALK 1
#else
#  define ZM__CFI_WALK 0
#endif

enum {
  ZM__CFI_NONE = 0,   /* (in the cache: an empty slot) */
  ZM__CFI_RULE = 1,   /* the caller's frame is found as described */
  ZM__CFI_END = 2,    /* the outermost frame: no caller (return address undefined) */
  ZM__CFI_UNSUPPORTED = 3,
};

enum { ZM__CFI_RSP = 0, ZM__CFI_RBP = 1 };

/* One rule, 8 bytes. Offsets are in bytes from the CFA, stored divided by
 * 8 (x86-64's data alignment factor): the return address is always at
 * CFA - 8 (ra8 == -1; rules that put it elsewhere are unsupported); bp8 ==
 * 0: RBP is unchanged in the caller. */
typedef struct zm__cfi {
  int32_t cfa_off;
  int8_t ra8, bp8;
  uint8_t kind, cfa_reg;
} zm__cfi;

/* The rule at code address `at` (for a return address, at = it - 1: the
 * call instruction). Cached; computed on a miss. */
zm__cfi zm__cfi_find(uintptr_t at);

/* The cache, for zm__cfi_lookup: an insert-only open-addressed table of
 * ZM__CFI_SLOTS slots. A slot's key is 0 (empty), 1 (being written) or an
 * address, published after its rule. */
#define ZM__CFI_SLOTS (1u << 15)
typedef struct zm__cfi_slot {
  _Atomic uintptr_t key;
  zm__cfi rule; /* written once, before the key */
} zm__cfi_slot;

/* The cache (mapped on first use), or NULL when it could not be mapped. */
zm__cfi_slot *zm__cfi_cache(void);

static inline uint32_t zm__cfi_home(uintptr_t at) {
  return (uint32_t)(((uint64_t)at * UINT64_C(0x9e3779b97f4a7c15)) >> 49);
}

/* zm__cfi_find with the common case inline: the rule in its home slot.
 * *spare receives a rule found elsewhere; the result points to the rule
 * (in the cache or *spare). */
static inline const zm__cfi *zm__cfi_lookup(zm__cfi_slot *cache, uintptr_t at,
                                            zm__cfi *spare) {
  zm__cfi_slot *s = &cache[zm__cfi_home(at)];
  if (__builtin_expect(atomic_load_explicit(&s->key, memory_order_acquire) == at, 1))
    return &s->rule;
  *spare = zm__cfi_find(at);
  return spare;
}

/* The rule computed from the unwind tables, without the cache (tests). */
zm__cfi zm__cfi_compute(uintptr_t at);

/* Cache statistics for tests and the cost figures. */
typedef struct zm__cfi_stats {
  uint64_t computed; /* rules computed (misses) */
  uint64_t cached;   /* slots in use */
} zm__cfi_stats;
void zm__cfi_stats_get(zm__cfi_stats *out);

#endif
