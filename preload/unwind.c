/* Stack capture: see unwind.h. */
#define _GNU_SOURCE
#include "unwind.h"

#include "cfi.h"
#include "modules.h"
#include "stackhash.h"

#include <errno.h>
#include <fcntl.h>
#include <libunwind.h>
#include <pthread.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#define TLS __thread __attribute__((tls_model("initial-exec")))

static _Atomic int cfg_mode = ZM__UNWIND_AUTO;
static _Atomic int cfg_depth = ZM__UNWIND_DEFAULT_DEPTH;

static TLS uintptr_t stack_lo, stack_hi; /* hi: 0 until known; 1 when unknown */
static TLS uint64_t n_fp, n_cfi, n_fallback;

/* Per-thread cache of frame-pointer verdicts by return address: entry =
 * pc << 1 | verdict, direct-mapped. */
#define VCACHE_BITS 8
#define VCACHE (1 << VCACHE_BITS)
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
  out->cfi = n_cfi;
  out->fallback = n_fallback;
}

/* Parses a hex number at *s, moving *s past it. */
static uintptr_t hex_at(const char **s, const char *end) {
  uintptr_t v = 0;
  for (; *s < end; (*s)++) {
    char c = **s;
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0)
      break;
    v = v << 4 | (uintptr_t)d;
  }
  return v;
}

/* Whether the maps line at [at, end) ("lo-hi perms ...") holds addr. */
static bool line_holds(const char *at, const char *end, uintptr_t addr, uintptr_t *lo,
                       uintptr_t *hi) {
  uintptr_t a = hex_at(&at, end);
  if (at == end || *at++ != '-')
    return false;
  uintptr_t b = hex_at(&at, end);
  if (addr < a || addr >= b)
    return false;
  *lo = a;
  *hi = b;
  return true;
}

/* The mapping that holds addr, [*lo, *hi), from /proc/self/maps. Calls
 * nothing that allocates, and its buffer is small: the first capture of a
 * thread may run in a signal handler, on a small alternate stack. Only the
 * "lo-hi" prefix of each line is read: the rest of a long line (a path) is
 * skipped. */
static bool mapping_of(uintptr_t addr, uintptr_t *lo, uintptr_t *hi) {
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  enum { PREFIX = 64 }; /* "lo-hi" takes at most 33 characters */
  char buf[512];
  size_t have = 0;
  bool found = false, skipping = false; /* skipping: the rest of a long line */
  ssize_t got;
  while (!found && (got = read(fd, buf + have, sizeof buf - have)) > 0) {
    const char *at = buf, *end = buf + have + (size_t)got, *nl;
    while (!found && (nl = memchr(at, '\n', (size_t)(end - at))) != NULL) {
      found = !skipping && line_holds(at, nl, addr, lo, hi);
      skipping = false;
      at = nl + 1;
    }
    have = (size_t)(end - at);
    if (skipping || have > PREFIX) { /* a long line: its prefix now, then skip */
      found = found || (!skipping && line_holds(at, end, addr, lo, hi));
      skipping = true;
      have = 0;
    } else
      memmove(buf, at, have);
  }
  close(fd);
  return found;
}

/* The mapping that holds anchor; for the process stack (process_stack)
 * extended down by the stack's size limit (at most 8 MiB), which the
 * kernel keeps free for it to grow into. */
static bool stack_at(uintptr_t anchor, bool process_stack, uintptr_t *lo, uintptr_t *hi) {
  if (!anchor || !mapping_of(anchor, lo, hi))
    return false;
  if (process_stack) {
    struct rlimit rl;
    uintptr_t grow = (uintptr_t)8 << 20;
    if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur < grow)
      grow = (uintptr_t)rl.rlim_cur;
    if (*hi - *lo < grow)
      *lo = *hi - grow;
  }
  return true;
}

/* The calling thread's stack, found without pthread_getattr_np (which
 * allocates): a thread's stack is the mapping that holds its thread
 * control block (the C library puts it at the stack's top), the main
 * thread's the process stack, which holds the kernel's random bytes. The
 * one that holds this frame wins: a fork child's thread may be either; a
 * first capture on another stack (a signal handler on an alternate stack)
 * takes the first guess, by the thread's id. */
static bool find_thread_stack(uintptr_t *lo, uintptr_t *hi) {
  uintptr_t here = (uintptr_t)__builtin_frame_address(0);
  uintptr_t anchor[2] = {(uintptr_t)getauxval(AT_RANDOM), (uintptr_t)pthread_self()};
  int first = syscall(SYS_gettid) == getpid() ? 0 : 1;
  bool have = false;
  for (int k = 0; k < 2; k++) {
    int i = (first + k) % 2;
    uintptr_t l, h;
    if (!stack_at(anchor[i], i == 0, &l, &h))
      continue;
    bool holds = here >= l && here < h;
    if (!have || holds) {
      *lo = l;
      *hi = h;
      have = true;
    }
    if (holds)
      return true;
  }
  return have;
}

/* The top of the calling thread's stack (one past its highest byte). */
static uintptr_t thread_stack_hi(void) {
  if (stack_hi)
    return stack_hi;
  uintptr_t lo, hi;
  stack_hi = 1;
  if (find_thread_stack(&lo, &hi)) {
    stack_lo = lo;
    stack_hi = hi;
  }
  return stack_hi;
}

/* The top of the stack that holds sp, which is not the thread's: the
 * alternate signal stack when sp is on it, else 0 (unknown: a coroutine's
 * stack, whose frames are then read only through read_elsewhere). The
 * rare path: one system call. */
__attribute__((noinline, cold)) static uintptr_t other_stack_hi(uintptr_t sp) {
  stack_t ss;
  if (sigaltstack(NULL, &ss) != 0 || (ss.ss_flags & SS_DISABLE))
    return 0;
  uintptr_t lo = (uintptr_t)ss.ss_sp;
  return sp >= lo && sp - lo < ss.ss_size ? lo + ss.ss_size : 0;
}

/* Reads the frame record at fp, which lies outside the stack the walk
 * trusts, with process_vm_readv: a fault comes back as an error, never a
 * signal. A record found on the thread's own stack makes the rest of that
 * stack trusted (it is mapped from any readable address up to its top):
 * *hi becomes its top. */
__attribute__((noinline, cold)) static bool read_elsewhere(uintptr_t fp, uintptr_t f[2],
                                                           uintptr_t *hi) {
  struct iovec here = {f, 2 * sizeof(uintptr_t)};
  struct iovec there = {(void *)fp, 2 * sizeof(uintptr_t)};
  if (process_vm_readv(getpid(), &here, 1, &there, 1, 0) != (ssize_t)sizeof(uintptr_t[2]))
    return false;
  if (stack_hi > 1 && fp >= stack_lo && fp < stack_hi)
    *hi = stack_hi;
  return true;
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
  /* A multiplicative hash: return addresses a fixed distance apart (the
   * same call sites in neighbouring functions) do not share a slot. */
  uintptr_t *slot = &vcache[(uint64_t)ra * UINT64_C(0x9e3779b97f4a7c15) >> (64 - VCACHE_BITS)];
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
  bool elsewhere;    /* frames above hi may be read through read_elsewhere */
} walk;

/* Follows the chain from frame fp. check: stop at return addresses in
 * modules without frame pointers (auto mode). */
static enum walk_end fp_walk(walk *w, uintptr_t fp, uintptr_t lo, uintptr_t hi,
                             bool check) {
  const uintptr_t rec = 2 * sizeof(uintptr_t);
  while (w->n < w->max) {
    if (fp < lo || fp % sizeof(uintptr_t) != 0)
      return WALK_BROKEN;
    uintptr_t next, ra;
    if (__builtin_expect(hi >= rec && fp <= hi - rec, 1)) {
      const uintptr_t *f = (const uintptr_t *)fp;
      next = f[0];
      ra = f[1];
    } else {
      uintptr_t f[2];
      if (!w->elsewhere || !read_elsewhere(fp, f, &hi))
        return WALK_BROKEN;
      next = f[0];
      ra = f[1];
    }
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

#if ZM__CFI_WALK
/* The walk by cached CFI rules (cfi.h). It starts in the capture's caller,
 * from the capture's own frame record (this file keeps frame pointers):
 * the caller's stack pointer is just above the record, its RBP is the
 * saved one, its return address `self`. Every frame, with or without a
 * frame pointer, then costs a cache look-up and two or three loads. Each
 * load is checked first: the new CFA lies at least 8 bytes above the
 * current stack pointer (so the walk only moves outwards and the return
 * address at CFA - 8 lies in the stack) and at most at the thread's stack
 * top; a saved RBP, below the CFA, must lie at or above the stack
 * pointer. */
typedef struct regs {
  uintptr_t at, sp, bp; /* at: the address whose rule applies */
} regs;

enum { STEP_END = 0, STEP_OK = 1, STEP_FOREIGN = -1, STEP_BROKEN = -2 };

/* One frame outwards: STEP_OK with *ra, STEP_END at the outermost frame,
 * STEP_FOREIGN where the rule is unsupported, STEP_BROKEN where a check
 * failed. */
static inline __attribute__((always_inline)) int cfi_step(zm__cfi_slot *cache, uintptr_t hi,
                                                          regs *g, uintptr_t *ra_out) {
  zm__cfi spare;
  const zm__cfi *r = zm__cfi_lookup(cache, g->at, &spare);
  if (__builtin_expect(r->kind != ZM__CFI_RULE, 0))
    return r->kind == ZM__CFI_END ? STEP_END : STEP_FOREIGN;
  uintptr_t cfa = (r->cfa_reg == ZM__CFI_RSP ? g->sp : g->bp) + (uintptr_t)(intptr_t)r->cfa_off;
  if (cfa < g->sp + sizeof(uintptr_t) || cfa > hi)
    return STEP_BROKEN;
  uintptr_t ra = ((const uintptr_t *)cfa)[-1];
  if (r->bp8) {
    const uintptr_t *bp_at = (const uintptr_t *)cfa + r->bp8;
    if ((uintptr_t)bp_at < g->sp)
      return STEP_BROKEN;
    g->bp = *bp_at;
  }
  g->sp = cfa;
  g->at = ra - 1; /* the call instruction */
  *ra_out = ra;
  return ra ? STEP_OK : STEP_END;
}

/* Drops the innermost frames whose return address lies in [own_lo,
 * own_hi): the preload's own code, which keeps frame pointers, so they are
 * passed by their frame records, each checked like the CFA below. Then
 * drops w->skip frames, keeps up to w->max more and their hash. */
static enum walk_end cfi_walk(walk *w, const uintptr_t *rec, uintptr_t lo, uintptr_t hi,
                              uintptr_t own_lo, uintptr_t own_hi, uint64_t *hash) {
  zm__cfi_slot *cache = zm__cfi_cache();
  if ((uintptr_t)rec < lo || (uintptr_t)rec > hi - 2 * sizeof(uintptr_t) || !cache)
    return WALK_BROKEN;
  while (rec[1] - own_lo < own_hi - own_lo) {
    const uintptr_t *next = (const uintptr_t *)rec[0];
    if (next <= rec || (uintptr_t)next > hi - 2 * sizeof(uintptr_t))
      return WALK_BROKEN;
    rec = next;
  }
  uintptr_t ra = rec[1];
  regs g = {ra - 1, (uintptr_t)(rec + 2), rec[0]};
  uintptr_t *pcs = w->pcs;
  size_t n = 0, max = w->max;
  uint64_t h = ZM__STACK_HASH_SEED;
  int st = STEP_OK;
  for (unsigned drop = w->skip; drop; drop--) {
    st = cfi_step(cache, hi, &g, &ra);
    if (st != STEP_OK)
      goto out;
  }
  for (;;) {
    pcs[n++] = ra;
    h = zm__stack_hash_step(h, ra);
    if (n == max) {
      st = STEP_END;
      break;
    }
    st = cfi_step(cache, hi, &g, &ra);
    if (st != STEP_OK)
      break;
  }
out:
  w->n = n;
  *hash = zm__stack_hash_end(h, n);
  return st == STEP_END ? WALK_DONE : st == STEP_FOREIGN ? WALK_FOREIGN : WALK_BROKEN;
}
#endif

/* unw_backtrace's first entries are inside the capture; they are dropped
 * up to `self`, the return address into the capture's caller, which the
 * frame walk drops too. */
static size_t dwarf(uintptr_t *pcs, size_t max, unsigned skip, uintptr_t self,
                    uintptr_t foreign) {
  if (zm__modules_frozen())
    return 0; /* libunwind calls dl_iterate_phdr, which may never return */
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

/* The capture below the frame record rec, whose return address is self:
 * the frame walk where the mode allows, else unw_backtrace. */
static inline __attribute__((always_inline)) size_t
capture(uintptr_t *pcs, size_t max, unsigned skip, zm__unwind_mode mode, const uintptr_t *rec,
        uintptr_t self) {
  uintptr_t hi = mode == ZM__UNWIND_DWARF ? 1 : thread_stack_hi();
#if ZM__CFI_WALK
  if (mode == ZM__UNWIND_AUTO) {
    walk w = {pcs, 0, max, skip + 1, 0, false}; /* + 1: self */
    uint64_t hash;
    if (hi > 1 && rec[1] == self && cfi_walk(&w, rec, stack_lo, hi, 0, 0, &hash) == WALK_DONE) {
      n_cfi++;
      return w.n;
    }
    n_fallback++;
    return dwarf(pcs, max, skip, self, 0);
  }
#endif
  if (hi > 1) {
    walk w = {pcs, 0, max, skip + 1, 0, true};
    /* Frames are read directly only between rec and the top of the stack
     * that holds rec: off the thread's stack (a signal handler on an
     * alternate stack, a coroutine), that stack is found first. */
    if (__builtin_expect((uintptr_t)rec < stack_lo || (uintptr_t)rec >= hi, 0))
      hi = other_stack_hi((uintptr_t)rec);
    enum walk_end e = fp_walk(&w, (uintptr_t)rec, (uintptr_t)rec, hi, mode == ZM__UNWIND_AUTO);
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

static size_t depth_cap(size_t max) {
  size_t depth = (size_t)zm__unwind_depth();
  return max < depth ? max : depth;
}

__attribute__((noinline)) size_t zm__unwind_capture(uintptr_t *pcs, size_t max,
                                                    unsigned skip) {
  max = depth_cap(max);
  if (max == 0)
    return 0;
  return capture(pcs, max, skip, zm__unwind_mode_get(), __builtin_frame_address(0),
                 (uintptr_t)__builtin_return_address(0));
}

__attribute__((noinline)) size_t zm__unwind_capture_site(uintptr_t *pcs, size_t max,
                                                         uintptr_t own_lo, uintptr_t own_hi,
                                                         uint64_t *hash) {
  max = depth_cap(max);
  *hash = zm__stack_hash(pcs, 0);
  if (max == 0)
    return 0;
  zm__unwind_mode mode = zm__unwind_mode_get();
  const uintptr_t *rec = __builtin_frame_address(0);
  uintptr_t self = (uintptr_t)__builtin_return_address(0);
#if ZM__CFI_WALK
  if (mode == ZM__UNWIND_AUTO) {
    uintptr_t hi = thread_stack_hi();
    walk w = {pcs, 0, max, 0, 0, false};
    /* A frozen process (modules.h) keeps what the walk found: it cannot
     * fall back to libunwind. */
    if (hi > 1 && rec[1] == self &&
        (cfi_walk(&w, rec, stack_lo, hi, own_lo, own_hi, hash) == WALK_DONE ||
         zm__modules_frozen())) {
      n_cfi++;
      return w.n;
    }
  }
#endif
  /* Room for the preload's own frames, dropped here. */
  uintptr_t buf[ZM__UNWIND_MAX_DEPTH + 16];
  size_t want = max + 16 < sizeof buf / sizeof buf[0] ? max + 16 : sizeof buf / sizeof buf[0];
  size_t got, k = 0;
#if ZM__CFI_WALK
  if (mode == ZM__UNWIND_AUTO) { /* the walk above could not finish */
    n_fallback++;
    buf[0] = self;
    got = 1 + dwarf(buf + 1, want - 1, 0, self, 0);
  } else
#endif
  {
    buf[0] = self;
    got = 1 + capture(buf + 1, want - 1, 0, mode, rec, self);
  }
  while (k < got && buf[k] - own_lo < own_hi - own_lo)
    k++;
  size_t n = got - k < max ? got - k : max;
  memcpy(pcs, buf + k, n * sizeof *pcs);
  *hash = zm__stack_hash(pcs, n);
  return n;
}

size_t zm__unwind_walk_fp(uintptr_t fp, uintptr_t lo, uintptr_t hi,
                          uintptr_t *pcs, size_t max) {
  walk w = {pcs, 0, max, 0, 0, false};
  if (hi < lo + 2 * sizeof(uintptr_t))
    return 0;
  fp_walk(&w, fp, lo, hi, false);
  return w.n;
}
