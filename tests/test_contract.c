/* Promises of include/zmem.h that the code once broke: errno across
 * realloc(p, 0), what an unknown tag means, user backends that break their
 * contract, readers racing a hard limit, the option keys and sizes, the
 * environment against limits set in code, the soft limit's warning, the
 * default OOM report, per-tag call counts, limits below what is in use,
 * and conflicting layout requests. */
#include "harness.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <malloc.h>
#include <unistd.h>

/* ------------------------------------------ a backend that breaks errno */

static void *clobber_malloc(void *ud, size_t n) {
  (void)ud;
  return malloc(n);
}
static void *clobber_realloc(void *ud, void *p, size_t n) {
  (void)ud;
  return realloc(p, n);
}
static void clobber_free(void *ud, void *p) {
  (void)ud;
  free(p);
  errno = EIO; /* allowed: nothing says a backend's free keeps errno */
}
static size_t clobber_usable(void *ud, const void *p) {
  (void)ud;
  return malloc_usable_size((void *)p);
}

static void install_clobbering(bool with_size) {
  SKIP_UNLESS_REPLACEMENT();
  zm_backend be = {.name = "clobber",
                   .malloc = clobber_malloc,
                   .realloc = clobber_realloc,
                   .free = clobber_free,
                   .usable_size = with_size ? clobber_usable : NULL};
  cr_assert_eq(zm_set_backend(&be), 0, "errno %d", errno);
}

static void realloc_zero_keeps_errno(bool with_size) {
  install_clobbering(with_size);
  void *p = zm_malloc(100), *q = zm_malloc(100), *r = zm_malloc(10);
  cr_assert(p && q && r);
  errno = 4242;
  cr_assert_null(zm_realloc(p, 0));
  cr_assert_eq(errno, 4242, "zm_realloc(p, 0): errno %d", errno);
  cr_assert_null(zm_reallocarray(q, 0, 8));
  cr_assert_eq(errno, 4242, "zm_reallocarray(p, 0, n): errno %d", errno);
  zm_free(r);
  cr_assert_eq(errno, 4242, "zm_free: errno %d", errno);
  cr_assert_eq(zm_used_memory(), 0);
}

Test(contract, realloc_zero_keeps_errno_lean) {
  realloc_zero_keeps_errno(true);
}

Test(contract, realloc_zero_keeps_errno_header) {
  realloc_zero_keeps_errno(false);
}

/* ----------------------------------------------- an unknown explicit tag */

/* The header: "an unknown tag counts as ZM_TAG_DEFAULT". ZM_TAG_INVALID
 * once meant "the current tag" to the *_tag functions. */
Test(contract, unknown_explicit_tag_is_the_default_tag) {
  zm_tag t = zm_tag_new("current");
  cr_assert_neq(t, ZM_TAG_INVALID);
  zm_tag_set_current(t);
  const zm_tag unknown[] = {ZM_TAG_INVALID, ZM_TAG_INVALID - 1, 9999};
  for (size_t i = 0; i < ARRAY_LEN(unknown); i++) {
    void *a = zm_malloc_tag(unknown[i], 10);
    void *b = zm_calloc_tag(unknown[i], 2, 10);
    char *c = zm_strdup_tag(unknown[i], "x");
    cr_assert(a && b && c);
    cr_assert_eq(zm_tag_of(a), ZM_TAG_DEFAULT, "malloc_tag(%u)", unknown[i]);
    cr_assert_eq(zm_tag_of(b), ZM_TAG_DEFAULT, "calloc_tag(%u)", unknown[i]);
    cr_assert_eq(zm_tag_of(c), ZM_TAG_DEFAULT, "strdup_tag(%u)", unknown[i]);
    zm_free(a);
    zm_free(b);
    zm_free(c);
  }
  void *d = zm_malloc(10); /* the current tag */
  cr_assert_eq(zm_tag_of(d), t);
  zm_free(d);
  cr_assert_eq(zm_tag_used(t), 0);
}

/* ------------------------------------- a backend that returns misaligned */

/* Every block 8 bytes past a malloc'd one: aligned to 8, not to 16. */
static void *skew_malloc(void *ud, size_t n) {
  (void)ud;
  char *p = malloc(n + 8);
  return p ? p + 8 : NULL;
}
static void *skew_realloc(void *ud, void *p, size_t n) {
  (void)ud;
  char *q = realloc((char *)p - 8, n + 8);
  return q ? q + 8 : NULL;
}
static void skew_free(void *ud, void *p) {
  (void)ud;
  free((char *)p - 8);
}
static size_t skew_usable(void *ud, const void *p) {
  (void)ud;
  return malloc_usable_size((char *)p - 8) - 8;
}

static void misaligned_backend_is_refused(bool with_size) {
  SKIP_UNLESS_REPLACEMENT();
  zm_backend be = {.name = "skew",
                   .malloc = skew_malloc,
                   .realloc = skew_realloc,
                   .free = skew_free,
                   .usable_size = with_size ? skew_usable : NULL};
  cr_assert_eq(zm_set_backend(&be), 0);
  const size_t sizes[] = {1, 100, 4000};
  for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
    errno = 0;
    void *p = zm_try_malloc(sizes[i]);
    cr_assert_null(p, "size %zu: misaligned block %p passed through",
                   sizes[i], p);
    cr_assert_eq(errno, ENOMEM);
    void *c = zm_try_calloc(1, sizes[i]);
    cr_assert_null(c, "calloc %zu: misaligned block %p passed through",
                   sizes[i], c);
  }
  zm_set_oom_handler(oom_record, &(oom_rec){0});
  void *a = zm_aligned_alloc(64, 100);
  cr_assert(a == NULL || ((uintptr_t)a % 64 == 0 && zm_usable_size(a) >= 100),
            "aligned block %p", a);
  zm_free(a);
  cr_assert_eq(zm_used_memory(), 0);
}

Test(contract, misaligned_backend_is_refused_lean) {
  misaligned_backend_is_refused(true);
}

Test(contract, misaligned_backend_is_refused_header) {
  misaligned_backend_is_refused(false);
}

/* -------------------------------------- tags after a header layout is fixed */

/* With the header layout already in force, tags cost nothing more: turning
 * them on after the first allocation works, and the blocks allocated before
 * count as ZM_TAG_DEFAULT, so the root tags still add up to the total. */
Test(contract, tags_on_after_first_allocation_in_header_layout) {
  cr_assert_eq(zm_set_layout(ZM_LAYOUT_HEADER), 0);
  void *early = zm_malloc(300);
  cr_assert_not_null(early);
  cr_assert_eq(zm_tags_enable(), 0, "errno %d: %s", errno, zm_last_error());
  cr_assert_eq(zm_tags_enabled(), 1);
  zm_tag t = zm_tag_new("late");
  cr_assert_neq(t, ZM_TAG_INVALID, "errno %d: %s", errno, zm_last_error());
  cr_assert_eq(zm_configure("tags=1"), 0, "%s", zm_last_error());
  void *p = zm_malloc_tag(t, 500);
  cr_assert_eq(zm_tag_of(p), t);
  cr_assert_eq(zm_tag_of(early), ZM_TAG_DEFAULT);
  cr_assert_eq(zm_tag_used(ZM_TAG_DEFAULT) + zm_tag_used(t), zm_used_memory());
  zm_free(early);
  cr_assert_eq(zm_tag_used(ZM_TAG_DEFAULT), 0);
  zm_free(p);
  cr_assert_eq(zm_tag_used(t), 0);
  cr_assert_eq(zm_used_memory(), 0);
}

/* In the lean layout it is refused, and the message says why. */
Test(contract, tags_refused_after_lean_layout_says_why) {
  if (zm_get_backend()->usable_size == NULL)
    cr_skip_test("the backend has no size query: the layout is header");
  void *p = zm_malloc(1);
  cr_assert_eq(zm_tags_enable(), -1);
  cr_assert_eq(errno, EBUSY);
  cr_assert(strstr(zm_last_error(), "lean layout") != NULL, "message: '%s'",
            zm_last_error());
  cr_assert_eq(zm_configure("tags=0"), 0, "tags=0 changes nothing: %s",
               zm_last_error());
  zm_free(p);
}

/* ------------------------------------------------- build-time option keys */

/* The options table lists backend, replacement and debug_assert; they are
 * CMake options only, and zm_configure says so instead of "unknown". */
Test(contract, build_time_keys_are_refused_as_such) {
  static const struct {
    const char *s, *cmake;
  } keys[] = {{"backend=jemalloc", "ZMEM_BACKEND"},
              {"replacement=off", "ZMEM_REPLACEMENT"},
              {"DEBUG_ASSERT=1", "ZMEM_DEBUG_ASSERT"},
              {"limit=1M, backend=libc", "ZMEM_BACKEND"}};
  for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
    errno = 0;
    cr_assert_eq(zm_configure(keys[i].s), -1, "'%s' accepted", keys[i].s);
    cr_assert_eq(errno, EINVAL);
    const char *msg = zm_last_error();
    cr_assert(strstr(msg, "fixed at build time") && strstr(msg, keys[i].cmake),
              "'%s': message '%s'", keys[i].s, msg);
  }
  cr_assert_eq(zm_get_limit(), 0, "nothing half-applied");
  cr_assert_eq(zm_configure("nosuchkey=1"), -1);
  cr_assert(strstr(zm_last_error(), "unknown option"), "%s", zm_last_error());
}

/* ------------------------------------------ ZMEM_OPTIONS against the code */

/* A limit from the environment is an operator's ceiling: the program may
 * set tighter limits, never looser ones, before or after the first
 * allocation, by zm_set_limit or by zm_configure. */
Test(contract, environment_limits_are_ceilings) {
  cr_assert_eq(setenv("ZMEM_OPTIONS", "limit=1M,soft_limit=512K", 1), 0);
  cr_assert_eq(zm_set_limit(64 << 20), 0);
  cr_assert_eq(zm_set_soft_limit(32 << 20, NULL, NULL), 0);
  void *p = zm_malloc(10); /* reads ZMEM_OPTIONS */
  cr_assert_eq(zm_get_limit(), 1 << 20);
  cr_assert_eq(zm_get_soft_limit(), 512 << 10);
  cr_assert_eq(zm_set_limit(100 << 10), 0);
  cr_assert_eq(zm_get_limit(), 100 << 10, "a tighter limit from code holds");
  cr_assert_eq(zm_set_limit(10 << 20), 0);
  cr_assert_eq(zm_get_limit(), 1 << 20, "the ceiling holds");
  cr_assert_eq(zm_configure("limit=0"), 0);
  cr_assert_eq(zm_get_limit(), 1 << 20, "removing the code's limit");
  cr_assert_eq(zm_set_soft_limit(0, NULL, NULL), 0);
  cr_assert_eq(zm_get_soft_limit(), 512 << 10);
  cr_assert_null(zm_try_malloc(2 << 20), "over the ceiling");
  zm_free(p);
}

/* ---------------------------------------------- a limit below what is used */

/* zm_set_limit(1000) with far more in use returned 0, and every allocation
 * after it failed. It is refused now, and nothing changes. */
Test(contract, limit_below_what_is_in_use_is_refused) {
  void *p = zm_malloc(200 * 1024);
  cr_assert_not_null(p);
  errno = 0;
  cr_assert_eq(zm_set_limit(1000), -1);
  cr_assert_eq(errno, EINVAL);
  cr_assert_eq(zm_get_limit(), 0);
  cr_assert_eq(zm_configure("limit=1000"), -1);
  cr_assert_eq(errno, EINVAL);
  cr_assert(strstr(zm_last_error(), "in use"), "message: '%s'",
            zm_last_error());
  cr_assert_eq(zm_get_limit(), 0);
  void *q = zm_malloc(100);
  cr_assert_not_null(q);
  cr_assert_eq(zm_set_limit(zm_used_memory() + 4096), 0, "at or above use");
  cr_assert_eq(zm_set_limit(0), 0);
  zm_free(q);
  zm_free(p);
}

/* ------------------------------------------- conflicting layout requests */

/* layout=lean, then a backend that cannot report sizes: the lean layout was
 * silently dropped for the header one. The backend is refused instead. */
Test(contract, lean_request_then_sizeless_backend_is_refused) {
  SKIP_UNLESS_REPLACEMENT();
  cr_assert_eq(zm_set_mem_functions(NULL, NULL, NULL), 0); /* built-in */
  cr_assert_eq(zm_configure("layout=lean"), 0, "%s", zm_last_error());
  zm_backend nosize = {.name = "nosize",
                       .malloc = clobber_malloc,
                       .realloc = clobber_realloc,
                       .free = clobber_free};
  errno = 0;
  cr_assert_eq(zm_set_backend(&nosize), -1, "lean request dropped");
  cr_assert_eq(errno, EINVAL);
  errno = 0;
  cr_assert_eq(zm_set_mem_functions(malloc, realloc, free), -1);
  cr_assert_eq(errno, EINVAL);
  cr_assert_str_eq(zm_get_backend()->name, ZMEM_TEST_BUILTIN_NAME);
  void *p = zm_malloc(10);
  cr_assert_eq(layout_now(), ZM_LAYOUT_LEAN);
  zm_free(p);
}

/* ------------------------------------------------------ the size grammar */

/* One grammar, as zmem.h writes it: digits, then directly an optional unit
 * K, M, G or T, an optional i, an optional B (any case). */
Test(contract, size_grammar_matches_its_documentation) {
  static const struct {
    const char *s;
    size_t v;
  } good[] = {{"limit=64", 64},          {"limit=64b", 64},
              {"limit=64K", 64 << 10},   {"limit=64kb", 64 << 10},
              {"limit=64Ki", 64 << 10},  {"limit=64KiB", 64 << 10},
              {"limit=64Mi", 64 << 20},  {"limit=64mIb", 64 << 20},
              {"limit= 64M ", 64 << 20}, {"limit=1Gi", (size_t)1 << 30}};
  for (size_t i = 0; i < ARRAY_LEN(good); i++) {
    cr_assert_eq(zm_configure(good[i].s), 0, "'%s' refused: %s", good[i].s,
                 zm_last_error());
    cr_assert_eq(zm_get_limit(), good[i].v, "'%s'", good[i].s);
  }
  static const char *const bad[] = {"limit=64 M",  "limit=64\tKiB",
                                    "limit=64 B",  "limit=64i",
                                    "limit=64iB",  "limit=64KBi",
                                    "limit=64Mii", "limit=64 Mi"};
  for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
    errno = 0;
    cr_assert_eq(zm_configure(bad[i]), -1, "'%s' accepted", bad[i]);
    cr_assert_eq(errno, EINVAL);
    cr_assert(strstr(zm_last_error(), "bad size"), "'%s': %s", bad[i],
              zm_last_error());
  }
}

/* ------------------------------------------------------- per-tag calls */

static zm_tag_info tag_info(zm_tag t) {
  zm_tag_info i = {.size = sizeof i};
  cr_assert_eq(zm_tag_stats(t, &i), 0);
  return i;
}

/* zm_stats counts a failed call under its function and under failures;
 * a tag's calls do the same. */
Test(contract, tag_calls_include_failed_ones) {
  zm_tag t = zm_tag_new("limited");
  cr_assert_neq(t, ZM_TAG_INVALID);
  oom_rec rec = {0};
  zm_set_oom_handler(oom_record, &rec);
  void *p = zm_malloc_tag(t, 100);
  cr_assert_not_null(p);
  cr_assert_eq(zm_tag_set_limit(t, 4096), 0);
  zm_tag_info before = tag_info(t);
  zm_stats sb = stats_now();
  cr_assert_null(zm_malloc_tag(t, 8192));
  cr_assert_null(zm_calloc_tag(t, 1, 8192));
  zm_tag_info after = tag_info(t);
  zm_stats sa = stats_now();
  cr_assert_eq(rec.calls, 2);
  cr_assert_eq(sa.malloc_calls + sa.calloc_calls - sb.malloc_calls -
                   sb.calloc_calls,
               2);
  cr_assert_eq(sa.failures - sb.failures, 2);
  cr_assert_eq(after.failures - before.failures, 2);
  cr_assert_eq(after.calls - before.calls, 2, "tag calls +%lu",
               (unsigned long)(after.calls - before.calls));
  zm_free(p);
}
