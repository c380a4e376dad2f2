/* The OOM handler: what it receives, what happens when it returns, and the
 * default handler's one line and abort (death tests in a forked child). */
#include "harness.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define HUGE1 ((size_t)PTRDIFF_MAX + 1)
#define UNMEETABLE ((size_t)1 << 60)

/* A checked call that must fail, and the size its handler must receive. */
typedef struct oom_case {
  const char *name;
  void *(*call)(size_t n, void *old);
  size_t n;
  size_t expect; /* what the handler gets */
  bool resizes_old;
} oom_case;

static void *c_malloc(size_t n, void *o) {
  (void)o;
  return zm_malloc(n);
}
static void *c_calloc_1n(size_t n, void *o) {
  (void)o;
  return zm_calloc(1, n);
}
static void *c_calloc_over(size_t n, void *o) {
  (void)o;
  return zm_calloc(n, 2);
}
static void *c_realloc_null(size_t n, void *o) {
  (void)o;
  return zm_realloc(NULL, n);
}
static void *c_realloc(size_t n, void *o) { return zm_realloc(o, n); }
static void *c_reallocarray(size_t n, void *o) {
  return zm_reallocarray(o, n, 1);
}
static void *c_reallocarray_over(size_t n, void *o) {
  return zm_reallocarray(o, n, 4);
}
static void *c_aligned(size_t n, void *o) {
  (void)o;
  return zm_aligned_alloc(64, n);
}
static void *c_aligned_small(size_t n, void *o) {
  (void)o;
  return zm_aligned_alloc(8, n);
}

static const oom_case cases[] = {
    {"zm_malloc(PTRDIFF_MAX + 1)", c_malloc, HUGE1, HUGE1, false},
    {"zm_malloc(SIZE_MAX)", c_malloc, SIZE_MAX, SIZE_MAX, false},
    {"zm_malloc(1 << 60)", c_malloc, UNMEETABLE, UNMEETABLE, false},
    {"zm_calloc(1, PTRDIFF_MAX + 1)", c_calloc_1n, HUGE1, HUGE1, false},
    {"zm_calloc(1, 1 << 60)", c_calloc_1n, UNMEETABLE, UNMEETABLE, false},
    {"zm_calloc(SIZE_MAX, 2)", c_calloc_over, SIZE_MAX, SIZE_MAX, false},
    {"zm_calloc(SIZE_MAX / 2 + 1, 2)", c_calloc_over, SIZE_MAX / 2 + 1,
     SIZE_MAX, false},
    {"zm_calloc(PTRDIFF_MAX / 2 + 1, 2)", c_calloc_over,
     (size_t)PTRDIFF_MAX / 2 + 1, HUGE1, false},
    {"zm_realloc(NULL, SIZE_MAX)", c_realloc_null, SIZE_MAX, SIZE_MAX, false},
    {"zm_realloc(p, PTRDIFF_MAX + 1)", c_realloc, HUGE1, HUGE1, true},
    {"zm_realloc(p, 1 << 60)", c_realloc, UNMEETABLE, UNMEETABLE, true},
    {"zm_reallocarray(p, SIZE_MAX, 1)", c_reallocarray, SIZE_MAX, SIZE_MAX,
     true},
    {"zm_reallocarray(p, SIZE_MAX / 4 + 1, 4)", c_reallocarray_over,
     SIZE_MAX / 4 + 1, SIZE_MAX, true},
    {"zm_aligned_alloc(64, SIZE_MAX)", c_aligned, SIZE_MAX, SIZE_MAX, false},
    {"zm_aligned_alloc(64, 1 << 60)", c_aligned, UNMEETABLE, UNMEETABLE,
     false},
    {"zm_aligned_alloc(8, PTRDIFF_MAX + 1)", c_aligned_small, HUGE1, HUGE1,
     false},
};

Test(oom, handler_gets_the_size_and_arg_and_null_is_returned) {
  oom_rec rec = {0};
  zm_set_oom_handler(oom_record, &rec);
  char *old = zm_strdup("still here");
  cr_assert_not_null(old);
  zm_stats s0 = stats_now();
  for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
    rec = (oom_rec){0};
    errno = 0;
    void *p = cases[i].call(opaque(cases[i].n), old);
    cr_assert_null(p, "%s succeeded", cases[i].name);
    cr_assert_eq(errno, ENOMEM, "%s: errno %d", cases[i].name, errno);
    cr_assert_eq(rec.calls, 1, "%s: handler ran %u times", cases[i].name,
                 rec.calls);
    cr_assert_eq(rec.last_size, cases[i].expect,
                 "%s: handler got %zu, expected %zu", cases[i].name,
                 rec.last_size, cases[i].expect);
    cr_assert_eq(rec.last_arg, &rec, "%s: arg not passed", cases[i].name);
    cr_assert_str_eq(old, "still here", "%s", cases[i].name);
  }
  zm_stats s1 = stats_now();
  cr_assert_eq(s1.used, s0.used);
  cr_assert_eq(s1.live_blocks, s0.live_blocks);
  cr_assert_eq(s1.failures - s0.failures, ARRAY_LEN(cases));
  zm_free(old);
}

/* The handler may free memory and allocate: it runs outside zmem's locks. */
static void *reserve;
static void release_reserve(size_t size, void *arg) {
  (void)size;
  ++*(int *)arg;
  zm_free(reserve);
  reserve = zm_malloc(10); /* allocating in the handler is allowed */
  cr_assert_not_null(reserve);
}

Test(oom, handler_can_use_zmem) {
  int calls = 0;
  reserve = zm_malloc(1 << 20);
  cr_assert_not_null(reserve);
  zm_set_oom_handler(release_reserve, &calls);
  errno = 0;
  cr_assert_null(zm_malloc(opaque(SIZE_MAX)));
  cr_assert_eq(errno, ENOMEM, "errno %d after the handler", errno);
  cr_assert_eq(calls, 1);
  cr_assert_geq(zm_usable_size(reserve), 10);
  zm_free(reserve);
}

/* A handler that is replaced must not run again; the new one gets its own
 * arg. */
Test(oom, replacing_the_handler) {
  oom_rec a = {0}, b = {0};
  zm_set_oom_handler(oom_record, &a);
  cr_assert_null(zm_malloc(opaque(SIZE_MAX)));
  zm_set_oom_handler(oom_record, &b);
  cr_assert_null(zm_malloc(opaque(SIZE_MAX - 1)));
  cr_assert_null(zm_calloc(opaque(SIZE_MAX), 3));
  cr_assert_eq(a.calls, 1);
  cr_assert_eq(b.calls, 2);
  cr_assert_eq(b.last_arg, &b);
}

static int null_arg_calls;
static void expect_null_arg(size_t size, void *arg) {
  (void)size;
  cr_assert_null(arg);
  null_arg_calls++;
}

Test(oom, null_arg_is_passed_as_null) {
  zm_set_oom_handler(expect_null_arg, NULL);
  cr_assert_null(zm_try_malloc(opaque(SIZE_MAX)));
  cr_assert_eq(null_arg_calls, 0, "a try variant called the handler");
  cr_assert_null(zm_malloc(opaque(SIZE_MAX)));
  cr_assert_eq(null_arg_calls, 1);
}

/* ------------------------------------------------------- death tests */

static void die_malloc(size_t n) { (void)!zm_malloc(n); }
static void die_calloc_overflow(size_t n) { (void)!zm_calloc(n, 2); }
static void die_realloc_null(size_t n) { (void)!zm_realloc(NULL, n); }
/* Global and volatile: the block stays reachable when the child aborts, and
 * valgrind does not report it as leaked. */
static void *volatile doomed;
static void die_realloc(size_t n) {
  doomed = zm_malloc(100);
  (void)!zm_realloc(doomed, n);
}
static void die_reallocarray(size_t n) {
  doomed = zm_malloc(100);
  (void)!zm_reallocarray(doomed, n, 16);
}
static void die_aligned(size_t n) { (void)!zm_aligned_alloc(4096, n); }
static void die_after_restore(size_t n) {
  oom_rec rec = {0};
  zm_set_oom_handler(oom_record, &rec);
  zm_set_oom_handler(NULL, &rec); /* NULL restores the default */
  (void)!zm_malloc(n);
}

static const struct {
  const char *name;
  void (*fn)(size_t);
  size_t n;
  size_t reported;
} deaths[] = {
    {"zm_malloc(PTRDIFF_MAX + 1)", die_malloc, HUGE1, HUGE1},
    {"zm_malloc(SIZE_MAX)", die_malloc, SIZE_MAX, SIZE_MAX},
    {"zm_calloc overflow", die_calloc_overflow, SIZE_MAX / 2 + 1, SIZE_MAX},
    {"zm_realloc(NULL, n)", die_realloc_null, SIZE_MAX - 1, SIZE_MAX - 1},
    {"zm_realloc(p, n)", die_realloc, HUGE1 + 7, HUGE1 + 7},
    {"zm_reallocarray overflow", die_reallocarray, SIZE_MAX / 8, SIZE_MAX},
    {"zm_aligned_alloc(4096, n)", die_aligned, HUGE1, HUGE1},
    {"handler restored with NULL", die_after_restore, HUGE1 + 1, HUGE1 + 1},
};

Test(oom, default_handler_reports_and_aborts) {
  for (size_t i = 0; i < ARRAY_LEN(deaths); i++) {
    death d = run_death(deaths[i].fn, opaque(deaths[i].n));
    cr_assert(WIFSIGNALED(d.status),
              "%s: the child did not die of a signal (status %#x), "
              "stderr: \"%s\"",
              deaths[i].name, d.status, d.err);
    cr_assert_eq(WTERMSIG(d.status), SIGABRT, "%s: died of signal %d",
                 deaths[i].name, WTERMSIG(d.status));
    /* The stats summary (issue 4: as PostgreSQL does), then the verdict as
     * the last line; every line is zmem's. */
    char want[128];
    snprintf(want, sizeof want, "zmem: out of memory allocating %zu bytes\n",
             deaths[i].reported);
    size_t len = strlen(d.err), wlen = strlen(want);
    cr_assert(len >= wlen && strcmp(d.err + len - wlen, want) == 0,
              "%s: stderr was \"%s\"", deaths[i].name, d.err);
    cr_assert(strncmp(d.err, "zmem: used ", 11) == 0,
              "%s: no summary first: \"%s\"", deaths[i].name, d.err);
    unsigned lines = 0;
    for (const char *l = d.err; *l; l = strchr(l, '\n') + 1, lines++)
      cr_assert(strncmp(l, "zmem: ", 6) == 0, "%s: stray line in \"%s\"",
                deaths[i].name, d.err);
    /* As zmem.h shows it: the figures, then the verdict (tags are off). */
    cr_assert_eq(lines, 2, "%s: %u lines in \"%s\"", deaths[i].name, lines,
                 d.err);
  }
}
