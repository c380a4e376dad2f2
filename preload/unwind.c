/* Stack capture: see unwind.h. */
#define _GNU_SOURCE
#include "unwind.h"

#include "modules.h"

#include <errno.h>
#include <libunwind.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#define TLS __thread __attribute__((tls_model("initial-exec")))

static _Atomic int cfg_mode = ZM__UNWIND_AUTO;
static _Atomic int cfg_depth = ZM__UNWIND_DEFAULT_DEPTH;

static TLS uintptr_t stack_hi; /* 0 until known; 1 when unknown */
static TLS uint64_t n_fp, n_fallback;

/* Per-thread cache of frame-pointer verdicts by return address: entry =
 * pc << 1 | verdict, direct-mapped. */
#define VCACHE 256
static TLS uintptr_t vcache[VCACHE];

/* Roots: return addresses in code without frame pointers where a
 * frame-pointer walk may end (the C library's call of main or of a
 * thread's start routine). A handful per process. */
#define NROOTS 16
static _Atomic uintptr_t roots[NROOTS];

int zm__unwind_configure(zm__unwind_mode mode, int depth) {
  if ((mode != ZM__UNWIND_AUTO && mode != ZM__UNWIND_FP &&
       mode != ZM__UNWIND_DWARF) || depth < 1 || depth > ZM__UNWIND_MAX_DEPTH) {
    errno = EINVAL;
    return -1;
  }
  atomic_store_explicit(&cfg_mode, mode, memory_order_relaxed);
  atomic_store_explicit(&cfg_depth, depth, memory_order_relaxed);
  return 0;
}

int zm__unwind_parse_mode(const char *s) {
  if (!s)
    return -1;
  if (strcmp(s, "auto") == 0)
    return ZM__UNWIND_AUTO;
  if (strcmp(s, "fp") == 0)
    return ZM__UNWIND_FP;
  if (strcmp(s, "dwarf") == 0)
    return ZM__UNWIND_DWARF;
  return -1;
}

int zm__unwind_depth(void) {
  return atomic_load_explicit(&cfg_depth, memory_order_relaxed);
}

zm__unwind_mode zm__unwind_mode_get(void) {
  return (zm__unwind_mode)atomic_load_explicit(&cfg_mode, memory_order_relaxed);
}

void zm__unwind_stats_get(zm__unwind_stats *out) {
  out->fp = n_fp;
  out->fallback = n_fallback;
}

/* The top of the calling thread's stack (one past its highest byte). */
static uintptr_t thread_stack_hi(void) {
  if (stack_hi)
    return stack_hi;
  pthread_attr_t a;
  void *lo;
  size_t size;
  stack_hi = 1;
  if (pthread_getattr_np(pthread_self(), &a) != 0)
    return stack_hi;
  if (pthread_attr_getstack(&a, &lo, &size) == 0)
    stack_hi = (uintptr_t)lo + size;
  pthread_attr_destroy(&a);
  return stack_hi;
}

static bool is_root(uintptr_t pc) {
  for (int i = 0; i < NROOTS; i++) {
    uintptr_t r = atomic_load_explicit(&roots[i], memory_order_relaxed);
    if (r == pc)
      return true;
    if (r == 0)
      return false;
  }
  return false;
}

static void learn_root(uintptr_t pc) {
  for (int i = 0; i < NROOTS; i++) {
    uintptr_t r = 0;
    if (atomic_compare_exchange_strong(&roots[i], &r, pc) || r == pc)
      return;
  }
}

/* Whether the function that ra returns into keeps a frame pointer, so
 * that the saved link in the frame below is its frame. */
static bool caller_has_fp(uintptr_t ra) {
  uintptr_t *slot = &vcache[(ra ^ ra >> 8) % VCACHE];
  if ((*slot >> 1) == ra)
    return *slot & 1;
  const zm__module *m = zm__modules_find(ra);
  bool fp = m && zm__modules_func_has_fp(m, ra);
  *slot = ra << 1 | fp;
  return fp;
}

enum walk_end { WALK_DONE, WALK_BROKEN, WALK_FOREIGN };

typedef struct walk {
  uintptr_t *pcs;
  size_t n, max;
  unsigned skip;
  uintptr_t foreign; /* the return address that ended a WALK_FOREIGN walk */
} walk;

/* Follows the chain from frame fp. check: stop at return addresses in
 * modules without frame pointers (auto mode). */
static enum walk_end fp_walk(walk *w, uintptr_t fp, uintptr_t lo, uintptr_t hi,
                             bool check) {
  const uintptr_t rec = 2 * sizeof(uintptr_t);
  while (w->n < w->max) {
    if (fp < lo || fp > hi - rec || fp % sizeof(uintptr_t) != 0)
      return WALK_BROKEN;
    const uintptr_t *f = (const uintptr_t *)fp;
    uintptr_t next = f[0], ra = f[1];
    if (ra == 0)
      return WALK_DONE;
    if (w->skip)
      w->skip--;
    else
      w->pcs[w->n++] = ra;
    if (check) {
      if (!caller_has_fp(ra)) {
        w->foreign = ra;
        return is_root(ra) ? WALK_DONE : WALK_FOREIGN;
      }
    }
    if (next == 0)
      return WALK_DONE;
    if (next <= fp)
      return WALK_BROKEN;
    lo = fp + rec;
    fp = next;
  }
  return WALK_DONE;
}

/* unw_backtrace's first entries are inside the capture; they are dropped
 * up to `self`, the return address into the capture's caller, which the
 * frame walk drops too. */
static size_t dwarf(uintptr_t *pcs, size_t max, unsigned skip, uintptr_t self,
                    uintptr_t foreign) {
  void *buf[ZM__UNWIND_MAX_DEPTH + 8];
  size_t want = max + skip + 4;
  if (want > sizeof buf / sizeof buf[0])
    want = sizeof buf / sizeof buf[0];
  int got = unw_backtrace(buf, (int)want);
  int first = 0;
  while (first < got && first < 4 && (uintptr_t)buf[first] != self)
    first++;
  if (first == got || first == 4)
    return 0; /* the capture's own frame is not there: trust nothing */
  size_t n = 0;
  for (int i = first + 1 + (int)skip; i < got && n < max; i++)
    pcs[n++] = (uintptr_t)buf[i];
  /* The frame walk stopped at `foreign`; if that is one of the outermost
   * frames, it is a root, and later walks may end there; the stack is cut
   * there too, so that it matches theirs. */
  int base = first + 1 + (int)skip;
  for (int i = got - 3 > base ? got - 3 : base; foreign && i < got && got < (int)want; i++)
    if ((uintptr_t)buf[i] == foreign) {
      learn_root(foreign);
      n = (size_t)(i - base + 1) < n ? (size_t)(i - base + 1) : n;
      break;
    }
  return n;
}

__attribute__((noinline)) size_t zm__unwind_capture(uintptr_t *pcs, size_t max,
                                                    unsigned skip) {
  int depth = zm__unwind_depth();
  if (max > (size_t)depth)
    max = (size_t)depth;
  if (max == 0)
    return 0;
  zm__unwind_mode mode = zm__unwind_mode_get();
  uintptr_t self = (uintptr_t)__builtin_return_address(0);
  uintptr_t hi = mode == ZM__UNWIND_DWARF ? 1 : thread_stack_hi();
  if (hi > 1) {
    uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
    walk w = {pcs, 0, max, skip + 1, 0};
    enum walk_end e = fp_walk(&w, fp, fp, hi, mode == ZM__UNWIND_AUTO);
    if (mode == ZM__UNWIND_FP || e == WALK_DONE) {
      n_fp++;
      return w.n;
    }
    n_fallback++;
    return dwarf(pcs, max, skip, self, w.foreign);
  }
  n_fallback++;
  return dwarf(pcs, max, skip, self, 0);
}

size_t zm__unwind_walk_fp(uintptr_t fp, uintptr_t lo, uintptr_t hi,
                          uintptr_t *pcs, size_t max) {
  walk w = {pcs, 0, max, 0, 0};
  if (hi < lo + 2 * sizeof(uintptr_t))
    return 0;
  fp_walk(&w, fp, lo, hi, false);
  return w.n;
}
