/* The stack capture of the preload (preload/unwind.c): frames found in
 * each mode, the depth, bounds checks on broken chains, the fallback on code
 * without frame pointers. */
#define _GNU_SOURCE
#include "cfi.h"
#include "modules.h"
#include "stackhash.h"
#include "sites/nofp.h"
#include "unwind.h"

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <gnu/libc-version.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The functions whose names the tests look up stay whole and keep their
 * names: gcc's -O3 would otherwise clone one for its constant arguments
 * (zt_nofp_entry.constprop.0, a local symbol that dladdr does not name). */
#if defined(__GNUC__) && !defined(__clang__)
#define ZT_NAMED __attribute__((noinline, noipa))
#else
#define ZT_NAMED __attribute__((noinline))
#endif

static const char *fname(uintptr_t pc) {
  Dl_info di;
  if (!dladdr((void *)(pc - 1), &di) || !di.dli_sname)
    return "?";
  return di.dli_sname;
}

typedef struct cap {
  uintptr_t pcs[ZM__UNWIND_MAX_DEPTH];
  size_t n;
} cap;

__attribute__((noinline)) static size_t take(void *arg) {
  cap *c = arg;
  c->n = zm__unwind_capture(c->pcs, ZM__UNWIND_MAX_DEPTH, 0);
  __asm__ volatile("" ::: "memory");
  return c->n;
}

/* Exported (-rdynamic) so that dladdr names them. */
ZT_NAMED size_t zt_level3(cap *c);
ZT_NAMED size_t zt_level2(cap *c);
ZT_NAMED size_t zt_level1(cap *c);
size_t zt_level3(cap *c) {
  size_t n = take(c);
  __asm__ volatile("" ::: "memory");
  return n;
}
size_t zt_level2(cap *c) {
  size_t n = zt_level3(c);
  __asm__ volatile("" ::: "memory");
  return n;
}
size_t zt_level1(cap *c) {
  size_t n = zt_level2(c);
  __asm__ volatile("" ::: "memory");
  return n;
}

static void expect_levels(const cap *c) {
  cr_assert_geq(c->n, 3, "only %zu frames", c->n);
  cr_assert_str_eq(fname(c->pcs[0]), "zt_level3");
  cr_assert_str_eq(fname(c->pcs[1]), "zt_level2");
  cr_assert_str_eq(fname(c->pcs[2]), "zt_level1");
}

Test(unwind, default_depth_and_mode) {
  cr_assert_eq(zm__unwind_depth(), ZM__UNWIND_DEFAULT_DEPTH);
  cr_assert_eq(zm__unwind_mode_get(), ZM__UNWIND_AUTO);
  cr_assert_eq(zm__unwind_parse_mode("fp"), ZM__UNWIND_FP);
  cr_assert_eq(zm__unwind_parse_mode("dwarf"), ZM__UNWIND_DWARF);
  cr_assert_eq(zm__unwind_parse_mode("auto"), ZM__UNWIND_AUTO);
  cr_assert_eq(zm__unwind_parse_mode("frame"), -1);
  cr_assert_eq(zm__unwind_configure(ZM__UNWIND_FP, 0), -1);
  cr_assert_eq(zm__unwind_configure(ZM__UNWIND_FP, ZM__UNWIND_MAX_DEPTH + 1), -1);
  cr_assert_eq(zm__unwind_configure((zm__unwind_mode)7, 10), -1);
}

Test(unwind, every_mode_finds_the_callers) {
  int modes[] = {ZM__UNWIND_FP, ZM__UNWIND_DWARF, ZM__UNWIND_AUTO};
  cap ref = {0};
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(zm__unwind_configure(modes[i], ZM__UNWIND_MAX_DEPTH), 0);
    cap c = {0};
    zt_level1(&c);
    expect_levels(&c);
    if (i == 0)
      ref = c;
    /* The same frames as the frame walk, as far as the test's own code
     * goes (the walk may stop at the C library, the others go on). */
    for (size_t k = 0; k < 4; k++)
      cr_assert_eq(c.pcs[k], ref.pcs[k], "mode %d frame %zu", modes[i], k);
  }
}

Test(unwind, depth_cuts_the_outer_frames) {
  cr_assert_eq(zm__unwind_configure(ZM__UNWIND_AUTO, 2), 0);
  cap c = {0};
  zt_level1(&c);
  cr_assert_eq(c.n, 2);
  cr_assert_str_eq(fname(c.pcs[0]), "zt_level3");
  cr_assert_str_eq(fname(c.pcs[1]), "zt_level2");
}

#if !ZM__CFI_WALK
/* (On x86-64, auto takes the CFI walk, tested below.) A thread whose start
 * routine calls zt_level1 directly: the stack is the test's code down to
 * the C library's start_thread, its root. */
typedef struct run {
  cap first, later;
  zm__unwind_stats before, after;
} run;

void *zt_thread_body(void *arg);
void *zt_thread_body(void *arg) {
  run *r = arg;
  zt_level1(&r->first); /* the first walk learns start_thread as a root */
  zm__unwind_stats_get(&r->before);
  for (int i = 0; i < 10; i++)
    zt_level1(&r->later);
  zm__unwind_stats_get(&r->after);
  return NULL;
}

Test(unwind, threads_learn_their_root_then_walk_frames_only) {
  for (int i = 0; i < 4; i++) {
    run r;
    memset(&r, 0, sizeof r);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, zt_thread_body, &r), 0);
    pthread_join(t, NULL);
    expect_levels(&r.first);
    expect_levels(&r.later);
    cr_assert_eq(r.after.fp - r.before.fp, 10);
    cr_assert_eq(r.after.fallback, r.before.fallback);
    /* Both ways give the same stack: thread_body, then start_thread. */
    cr_assert_eq(r.first.n, r.later.n);
    cr_assert_eq(r.first.n, 5);
    cr_assert_str_eq(fname(r.later.pcs[3]), "zt_thread_body");
  }
}
#endif

/* Code without frame pointers between the capture and the test: auto
 * finds every frame, through the CFI walk on x86-64, else by falling back
 * to libunwind. */
ZT_NAMED size_t zt_nofp_entry(size_t (*cb)(void *), void *arg);
size_t zt_nofp_entry(size_t (*cb)(void *), void *arg) {
  size_t n = nofp_outer(cb, arg);
  __asm__ volatile("" ::: "memory");
  return n;
}

Test(unwind, fallback_without_frame_pointers) {
  const zm__module *m = zm__modules_find((uintptr_t)nofp_outer);
  cr_assert_not_null(m);
  const zm__module *self = zm__modules_find((uintptr_t)zt_level1);
  cr_assert_eq(self, m, "nofp.c is linked into the test program");
  int modes[] = {ZM__UNWIND_AUTO, ZM__UNWIND_DWARF};
  for (int i = 0; i < 2; i++) {
    cr_assert_eq(zm__unwind_configure(modes[i], 16), 0);
    zm__unwind_stats before, after;
    zm__unwind_stats_get(&before);
    cap c = {0};
    zt_nofp_entry(take, &c);
    zm__unwind_stats_get(&after);
#if ZM__CFI_WALK
    if (modes[i] == ZM__UNWIND_AUTO) {
      cr_assert_eq(after.cfi - before.cfi, 1);
      cr_assert_eq(after.fallback, before.fallback);
    } else
#endif
      cr_assert_eq(after.fallback - before.fallback, 1, "mode %d", modes[i]);
    cr_assert_geq(c.n, 4);
    cr_assert_str_eq(fname(c.pcs[0]), "nofp_inner");
    cr_assert_str_eq(fname(c.pcs[1]), "nofp_outer");
    cr_assert_str_eq(fname(c.pcs[2]), "zt_nofp_entry");
  }
}

/* Fake frame chains in a buffer standing for a stack, and a guard page
 * above it: a walk that read past the bounds would fault. */
typedef struct fake {
  uintptr_t *stk; /* 64 words, followed by an inaccessible page */
  uintptr_t lo, hi;
} fake;

static fake fake_stack(void) {
  long pg = sysconf(_SC_PAGESIZE);
  char *p = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert_neq(p, MAP_FAILED);
  cr_assert_eq(mprotect(p + pg, (size_t)pg, PROT_NONE), 0);
  fake f;
  f.stk = (uintptr_t *)(p + pg) - 64;
  f.lo = (uintptr_t)f.stk;
  f.hi = (uintptr_t)(p + pg);
  memset(f.stk, 0, 64 * sizeof(uintptr_t));
  return f;
}

static void frame(fake *f, int at, uintptr_t next, uintptr_t ra) {
  f->stk[at] = next;
  f->stk[at + 1] = ra;
}

Test(unwind, broken_chains_stop_inside_the_bounds) {
  fake f = fake_stack();
  uintptr_t pcs[16];
  /* A good chain of three frames ending with a zero link. */
  frame(&f, 0, (uintptr_t)&f.stk[4], 0x1001);
  frame(&f, 4, (uintptr_t)&f.stk[10], 0x1002);
  frame(&f, 10, 0, 0x1003);
  cr_assert_eq(zm__unwind_walk_fp(f.lo, f.lo, f.hi, pcs, 16), 3);
  cr_assert_eq(pcs[2], 0x1003);
  /* A link past the top (into the guard page). */
  frame(&f, 10, f.hi, 0x1003);
  cr_assert_eq(zm__unwind_walk_fp(f.lo, f.lo, f.hi, pcs, 16), 3);
  /* The last record straddles the top: its return address would be in the
   * guard page. */
  frame(&f, 10, f.hi - sizeof(uintptr_t), 0x1003);
  cr_assert_eq(zm__unwind_walk_fp(f.lo, f.lo, f.hi, pcs, 16), 3);
  /* A loop, a link downwards, a misaligned link, a wild pointer. */
  frame(&f, 10, (uintptr_t)&f.stk[4], 0x1003);
  cr_assert_eq(zm__unwind_walk_fp(f.lo, f.lo, f.hi, pcs, 16), 3);
  frame(&f, 10, (uintptr_t)&f.stk[0], 0x1003);
  cr_assert_eq(zm__unwind_walk_fp(f.lo, f.lo, f.hi, pcs, 16), 3);
  frame(&f, 10, (uintptr_t)&f.stk[20] + 3, 0x1003);
  cr_assert_eq(zm__unwind_walk_fp(f.lo, f.lo, f.hi, pcs, 16), 3);
  frame(&f, 10, 0x10, 0x1003);
  cr_assert_eq(zm__unwind_walk_fp(f.lo, f.lo, f.hi, pcs, 16), 3);
  /* A start outside the bounds reads nothing. */
  cr_assert_eq(zm__unwind_walk_fp(f.hi, f.lo, f.hi, pcs, 16), 0);
  cr_assert_eq(zm__unwind_walk_fp(f.lo - 16, f.lo, f.hi, pcs, 16), 0);
  /* max is honoured. */
  frame(&f, 10, 0, 0x1003);
  cr_assert_eq(zm__unwind_walk_fp(f.lo, f.lo, f.hi, pcs, 2), 2);
}

Test(unwind, modules_know_the_program_and_libc) {
  cr_assert_gt(zm__modules_refresh(), 2);
  const zm__module *self = zm__modules_find((uintptr_t)zt_level1);
  cr_assert_not_null(self);
  cr_assert(zm__modules_func_has_fp(self, (uintptr_t)zt_level1 + 8));
#if !defined(__SANITIZE_ADDRESS__) && !defined(__has_feature)
#  define __has_feature(x) 0
#endif
#if !defined(__SANITIZE_ADDRESS__) && !__has_feature(address_sanitizer)
  /* (AddressSanitizer realigns frames with locals through a frame pointer
   * even under -fomit-frame-pointer.) */
  cr_assert(!zm__modules_func_has_fp(self, (uintptr_t)nofp_outer + 8));
#endif
  cr_assert(!zm__modules_func_has_fp(self, (uintptr_t)nofp_inner + 8));
  cr_assert_not_null(self->eh_table);
  cr_assert_gt(self->build_id_len, 0);
  const zm__module *libc = zm__modules_find((uintptr_t)&gnu_get_libc_version);
  cr_assert_not_null(libc);
  cr_assert(strstr(libc->path, "libc.so") != NULL, "%s", libc->path);
  cr_assert_null(zm__modules_find(0x10));
  char buf[512];
  cr_assert_gt(zm__modules_main_path(buf, sizeof buf), 0);
  cr_assert(strstr(buf, "test_unwind") != NULL);
}

Test(unwind, dlopened_module_is_found) {
  void *h = dlopen("libz.so.1", RTLD_NOW);
  cr_assert_not_null(h);
  void *f = dlsym(h, "crc32");
  cr_assert_not_null(f);
  const zm__module *m = zm__modules_find((uintptr_t)f);
  cr_assert_not_null(m);
  cr_assert(strstr(m->path, "libz.so") != NULL);
}

#if ZM__CFI_WALK
/* The CFI walk (auto on x86-64) against libunwind (dwarf): the same
 * return addresses, frame for frame, to the end of the stack. */
typedef struct both {
  cap fast, ref;
  zm__unwind_stats before, after;
} both;

__attribute__((noinline)) static size_t take_both(void *arg) {
  both *b = arg;
  int depth = zm__unwind_depth();
  zm__unwind_configure(ZM__UNWIND_AUTO, depth);
  zm__unwind_stats_get(&b->before);
  b->fast.n = zm__unwind_capture(b->fast.pcs, ZM__UNWIND_MAX_DEPTH, 0);
  zm__unwind_stats_get(&b->after);
  zm__unwind_configure(ZM__UNWIND_DWARF, depth);
  b->ref.n = zm__unwind_capture(b->ref.pcs, ZM__UNWIND_MAX_DEPTH, 0);
  zm__unwind_configure(ZM__UNWIND_AUTO, depth);
  __asm__ volatile("" ::: "memory");
  return b->fast.n;
}

static void expect_same(const both *b, const char *what) {
  cr_assert_gt(b->ref.n, 2, "%s: libunwind found %zu frames", what, b->ref.n);
  cr_assert_eq(b->fast.n, b->ref.n, "%s: %zu frames, libunwind %zu", what, b->fast.n,
               b->ref.n);
  for (size_t k = 0; k < b->ref.n; k++)
    cr_assert_eq(b->fast.pcs[k], b->ref.pcs[k], "%s: frame %zu: %s, libunwind %s", what, k,
                 fname(b->fast.pcs[k]), fname(b->ref.pcs[k]));
}

static void expect_cfi(const both *b, const char *what) {
  expect_same(b, what);
  cr_assert_eq(b->after.cfi - b->before.cfi, 1, "%s: not taken by the CFI walk", what);
  cr_assert_eq(b->after.fallback, b->before.fallback, "%s", what);
}

static size_t zt_both_entry(both *b) { return zt_nofp_entry(take_both, b); }

Test(cfi, same_stacks_as_libunwind_with_and_without_frame_pointers) {
  zm__unwind_configure(ZM__UNWIND_AUTO, ZM__UNWIND_MAX_DEPTH);
  for (int i = 0; i < 3; i++) { /* a miss, then cached rules */
    both b;
    memset(&b, 0, sizeof b);
    zt_both_entry(&b);
    expect_cfi(&b, "nofp");
    cr_assert_str_eq(fname(b.fast.pcs[0]), "nofp_inner");
    cr_assert_str_eq(fname(b.fast.pcs[1]), "nofp_outer");
    cr_assert_str_eq(fname(b.fast.pcs[2]), "zt_nofp_entry");
    memset(&b, 0, sizeof b);
    take_both(&b);
    expect_cfi(&b, "direct");
  }
}

Test(cfi, rules_are_computed_once_per_address) {
  zm__unwind_configure(ZM__UNWIND_AUTO, ZM__UNWIND_MAX_DEPTH);
  both b;
  zm__cfi_stats s1, s2;
  /* (The first iterations may be separate copies of the loop, each with
   * return addresses of its own.) */
  for (volatile int i = 0; i < 8; i++) {
    if (i == 3)
      zm__cfi_stats_get(&s1);
    zt_both_entry(&b);
  }
  zm__cfi_stats_get(&s2);
  cr_assert_eq(s2.computed, s1.computed, "%llu rules computed again",
               (unsigned long long)(s2.computed - s1.computed));
  cr_assert_gt(s2.cached, 4);
}

Test(cfi, deep_recursion_without_frame_pointers) {
  int depths[] = {40, 200};
  for (int i = 0; i < 2; i++) {
    zm__unwind_configure(ZM__UNWIND_AUTO, ZM__UNWIND_MAX_DEPTH);
    both b;
    memset(&b, 0, sizeof b);
    nofp_recurse(depths[i], take_both, &b);
    expect_cfi(&b, depths[i] == 40 ? "recursion 40" : "recursion 200");
    if (depths[i] == 200)
      cr_assert_eq(b.fast.n, ZM__UNWIND_MAX_DEPTH);
    for (int k = 0; k < 30; k++)
      cr_assert_str_eq(fname(b.fast.pcs[k]), "nofp_recurse");
  }
}

void *zt_cfi_thread(void *arg);
void *zt_cfi_thread(void *arg) {
  both *b = arg;
  for (int i = 0; i < 2; i++)
    zt_both_entry(&b[i]);
  return NULL;
}

Test(cfi, threads) {
  zm__unwind_configure(ZM__UNWIND_AUTO, ZM__UNWIND_MAX_DEPTH);
  for (int i = 0; i < 3; i++) {
    both b[2];
    memset(b, 0, sizeof b);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, zt_cfi_thread, b), 0);
    pthread_join(t, NULL);
    expect_cfi(&b[0], "thread, first");
    expect_cfi(&b[1], "thread, second");
    /* The thread's start routine, then the C library's (and a sanitizer's)
     * start-up frames end the stack. */
    size_t k = 0;
    while (k < b[1].fast.n && strcmp(fname(b[1].fast.pcs[k]), "zt_cfi_thread") != 0)
      k++;
    cr_assert_lt(k, b[1].fast.n, "zt_cfi_thread is not in the stack");
    cr_assert_leq(b[1].fast.n - k, 6, "%zu frames after the start routine", b[1].fast.n - k);
  }
}

Test(cfi, dlopened_library_without_frame_pointers) {
  void *h = dlopen(ZT_NOFP_DL, RTLD_NOW);
  cr_assert_not_null(h, "%s", dlerror());
  size_t (*call)(size_t (*)(void *), void *, int) =
      (size_t (*)(size_t (*)(void *), void *, int))dlsym(h, "nofpdl_call");
  cr_assert_not_null(call);
  zm__unwind_configure(ZM__UNWIND_AUTO, ZM__UNWIND_MAX_DEPTH);
  for (int i = 0; i < 2; i++) {
    both b;
    memset(&b, 0, sizeof b);
    call(take_both, &b, 5);
    expect_cfi(&b, "dlopen");
    for (int k = 0; k < 5; k++)
      cr_assert_str_eq(fname(b.fast.pcs[k]), "nofpdl_call");
  }
}

/* A signal handler's stack passes through the signal trampoline, which
 * the CFI walk does not follow: the capture falls back to libunwind, and
 * gives its stack. */
static both in_handler;
void zt_handler(int sig);
void zt_handler(int sig) {
  (void)sig;
  take_both(&in_handler);
  __asm__ volatile("" ::: "memory"); /* no tail call */
}

Test(cfi, signal_handler_falls_back_to_libunwind) {
  zm__unwind_configure(ZM__UNWIND_AUTO, ZM__UNWIND_MAX_DEPTH);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = zt_handler;
  cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
  /* The thread's stack bounds are taken outside the handler (that
   * allocates: unwind.h). */
  both outside;
  take_both(&outside);
  for (int i = 0; i < 2; i++) {
    memset(&in_handler, 0, sizeof in_handler);
    raise(SIGUSR1);
    expect_same(&in_handler, "signal");
    cr_assert_eq(in_handler.after.fallback - in_handler.before.fallback, 1);
    cr_assert_str_eq(fname(in_handler.fast.pcs[0]), "zt_handler");
  }
}

Test(cfi, rules_of_known_functions) {
  /* A function without a frame pointer: the CFA is RSP-based, RBP is the
   * caller's. */
  zm__cfi r = zm__cfi_compute((uintptr_t)nofp_inner + 8);
  cr_assert_eq(r.kind, ZM__CFI_RULE);
  cr_assert_eq(r.cfa_reg, ZM__CFI_RSP);
  cr_assert_eq(r.ra8, -1);
  cr_assert_eq(r.bp8, 0);
  /* At a function's first instruction: CFA = RSP + 8. */
  r = zm__cfi_compute((uintptr_t)nofp_outer);
  cr_assert_eq(r.kind, ZM__CFI_RULE);
  cr_assert_eq(r.cfa_reg, ZM__CFI_RSP);
  cr_assert_eq(r.cfa_off, 8);
  /* Past the frame set-up of a function with a frame pointer (this file
   * keeps them): CFA = RBP + 16, RBP saved at CFA - 16. */
  cap c = {0};
  zt_level1(&c);
  r = zm__cfi_compute(c.pcs[2] - 1); /* in zt_level1, at its call */
  cr_assert_eq(r.kind, ZM__CFI_RULE);
  cr_assert_eq(r.cfa_reg, ZM__CFI_RBP);
  cr_assert_eq(r.cfa_off, 16);
  cr_assert_eq(r.bp8, -2);
  /* No unwind tables there. */
  cr_assert_eq(zm__cfi_compute(0x10).kind, ZM__CFI_UNSUPPORTED);
}
#endif

/* The preload's capture: its own frames (here zt_site_take's) dropped,
 * the hash of the rest, in every mode. */
typedef struct site_cap {
  uintptr_t own_lo, own_hi;
  uintptr_t pcs[ZM__UNWIND_MAX_DEPTH];
  size_t n;
  uint64_t hash;
} site_cap;

ZT_NAMED size_t zt_site_take(site_cap *c);
size_t zt_site_take(site_cap *c) {
  c->n = zm__unwind_capture_site(c->pcs, ZM__UNWIND_MAX_DEPTH, c->own_lo, c->own_hi, &c->hash);
  __asm__ volatile("" ::: "memory");
  return c->n;
}

ZT_NAMED size_t zt_site_outer(site_cap *c);
size_t zt_site_outer(site_cap *c) {
  size_t n = zt_site_take(c);
  __asm__ volatile("" ::: "memory");
  return n;
}

Test(unwind, site_capture_drops_own_frames_and_hashes) {
  Dl_info di;
  const ElfW(Sym) *sym = NULL;
  cr_assert(dladdr1((void *)zt_site_take, &di, (void **)&sym, RTLD_DL_SYMENT));
  cr_assert_not_null(sym);
  cr_assert_gt(sym->st_size, 0);
  int modes[] = {ZM__UNWIND_AUTO, ZM__UNWIND_DWARF, ZM__UNWIND_FP};
  site_cap ref;
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(zm__unwind_configure(modes[i], ZM__UNWIND_MAX_DEPTH), 0);
    site_cap c = {(uintptr_t)zt_site_take, (uintptr_t)zt_site_take + sym->st_size, {0}, 0, 0};
    zt_site_outer(&c);
    cr_assert_geq(c.n, 2, "mode %d", modes[i]);
    cr_assert_str_eq(fname(c.pcs[0]), "zt_site_outer", "mode %d", modes[i]);
    cr_assert_eq(c.hash, zm__stack_hash(c.pcs, c.n), "mode %d", modes[i]);
    if (i == 0)
      ref = c;
    else if (modes[i] == ZM__UNWIND_DWARF) {
      cr_assert_eq(c.n, ref.n);
      for (size_t k = 0; k < c.n; k++)
        cr_assert_eq(c.pcs[k], ref.pcs[k], "frame %zu", k);
    }
    /* With no own range, the first frame is the capture's caller's. */
    site_cap all = {0, 0, {0}, 0, 0};
    zt_site_outer(&all);
    cr_assert_str_eq(fname(all.pcs[0]), "zt_site_take", "mode %d", modes[i]);
    cr_assert_eq(all.pcs[1], c.pcs[0]);
    /* The depth counts the frames kept, own ones left out. */
    cr_assert_eq(zm__unwind_configure(modes[i], 2), 0);
    site_cap two = c;
    zt_site_outer(&two);
    cr_assert_eq(two.n, 2);
    cr_assert_eq(two.pcs[0], c.pcs[0]);
    cr_assert_eq(two.hash, zm__stack_hash(two.pcs, 2));
  }
  zm__unwind_configure(ZM__UNWIND_AUTO, ZM__UNWIND_DEFAULT_DEPTH);
}
