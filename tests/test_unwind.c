/* The stack capture of the preload (preload/unwind.c): frames found in
 * each mode, the depth, bounds checks on broken chains, the fallback on code
 * without frame pointers. */
#define _GNU_SOURCE
#include "modules.h"
#include "sites/nofp.h"
#include "unwind.h"

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <gnu/libc-version.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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
__attribute__((noinline)) size_t zt_level3(cap *c);
__attribute__((noinline)) size_t zt_level2(cap *c);
__attribute__((noinline)) size_t zt_level1(cap *c);
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

/* A thread whose start routine calls zt_level1 directly: the stack is the
 * test's code down to the C library's start_thread, its root. */
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

/* Code without frame pointers between the capture and the test: auto
 * falls back to libunwind and finds every frame. */
__attribute__((noinline)) size_t zt_nofp_entry(cap *c);
size_t zt_nofp_entry(cap *c) {
  size_t n = nofp_outer(take, c);
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
    zt_nofp_entry(&c);
    zm__unwind_stats_get(&after);
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
