/* Stack capture for allocation sites: return addresses of the calling
 * thread, innermost first.
 *
 * Three modes:
 * - fp: walks the frame-pointer chain. Every frame address is checked
 *   before it is read (aligned, above the previous frame, below the top of
 *   the stack it is on; see Stacks below), so a broken chain ends the walk
 *   instead of reading past the stack.
 * - dwarf: libunwind's unw_backtrace, which follows the .eh_frame unwind
 *   tables and works on code built without frame pointers.
 * - auto (the default): on x86-64 (ZM__CFI_WALK, cfi.h), a walk by unwind
 *   rules computed once per return address from .eh_frame and cached,
 *   with or without frame pointers, checked against the stack bounds like
 *   the frame-pointer walk; a frame it cannot follow (a signal trampoline,
 *   a DWARF expression) sends the whole capture to unw_backtrace, which
 *   gives the same frames. Elsewhere: the frame-pointer walk while every
 *   function keeps a frame pointer (modules.h); as soon as one does not,
 *   the whole stack is taken again with unw_backtrace. The one exception
 *   is the thread's root (the C library's code that called main or the
 *   thread's start routine), learnt from the unw_backtrace results: a walk
 *   that reaches it is complete.
 *
 * Depth: at most ZM__UNWIND_DEFAULT_DEPTH frames unless configured, at most
 * ZM__UNWIND_MAX_DEPTH. Deeper stacks are cut: the innermost frames are
 * kept.
 *
 * Stacks: the thread's stack bounds are found once per thread from
 * /proc/self/maps (the mapping that holds its thread control block; for
 * the main thread, the process stack), with nothing that allocates. A
 * capture that starts elsewhere (a signal handler on an alternate stack, a
 * coroutine's stack) reads directly only up to the top of the alternate
 * stack that holds it, and every frame outside a stack known to be mapped
 * through process_vm_readv, which fails instead of faulting: a frame
 * pointer that holds no address ends the walk, never the program. */
#ifndef ZM_PRELOAD_UNWIND_H
#define ZM_PRELOAD_UNWIND_H

#include <stddef.h>
#include <stdint.h>

#define ZM__UNWIND_DEFAULT_DEPTH 32
#define ZM__UNWIND_MAX_DEPTH 128

typedef enum zm__unwind_mode {
  ZM__UNWIND_AUTO,
  ZM__UNWIND_FP,
  ZM__UNWIND_DWARF,
} zm__unwind_mode;

/* Sets the mode and depth for every thread (before the first capture, or
 * any time: captures in flight use either setting). 0, or -1 with EINVAL
 * for an unknown mode or a depth outside 1..ZM__UNWIND_MAX_DEPTH. */
int zm__unwind_configure(zm__unwind_mode mode, int depth);

/* "auto", "fp" or "dwarf" to a mode; -1 for anything else. */
int zm__unwind_parse_mode(const char *s);

int zm__unwind_depth(void);
zm__unwind_mode zm__unwind_mode_get(void);

/* Captures up to min(max, the configured depth) return addresses into
 * pcs: pcs[0] is the return address into the caller of the function that
 * called zm__unwind_capture, after `skip` more frames are dropped. Returns
 * the number stored (0 when nothing could be taken). */
size_t zm__unwind_capture(uintptr_t *pcs, size_t max, unsigned skip);

/* The capture of an allocation's stack, for the preload: the return
 * addresses from the one into the capture's caller outwards, less the
 * innermost ones that lie in [own_lo, own_hi) (the preload's own code,
 * which must keep frame pointers); up to min(max, the configured depth)
 * frames. *hash gets their zm__stack_hash (stackhash.h), computed during
 * the walk where it can be. */
size_t zm__unwind_capture_site(uintptr_t *pcs, size_t max, uintptr_t own_lo,
                               uintptr_t own_hi, uint64_t *hash);

/* Counters for tests and the overhead figures: captures taken by the
 * frame-pointer walk alone, by the cached CFI walk, and those that fell
 * back to unw_backtrace. */
typedef struct zm__unwind_stats {
  uint64_t fp, cfi, fallback;
} zm__unwind_stats;
void zm__unwind_stats_get(zm__unwind_stats *out);

/* The frame-pointer walk alone, from the frame record at fp, reading only
 * inside [lo, hi): exposed so that tests can hand it broken chains. */
size_t zm__unwind_walk_fp(uintptr_t fp, uintptr_t lo, uintptr_t hi,
                          uintptr_t *pcs, size_t max);

#endif
