/* The debug layout: fill patterns, realloc that moves, accounting with tags
 * and limits; one death test per kind of corruption, each with its exact
 * message; the leak report and the leak check at exit. Sites are file:line
 * here (ZMEM_TRACK_SITES), except where a call is written (zm_malloc)(n),
 * which bypasses the macro and records the return address. */
#define ZMEM_TRACK_SITES
#include "harness.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#endif
#endif
#ifndef VALGRIND_MAKE_MEM_DEFINED
#define VALGRIND_MAKE_MEM_DEFINED(p, n) 0
#endif

/* all_bytes on bytes the program never wrote: memcheck rightly calls them
 * undefined, and these tests read the fill on purpose. */
static bool filled(const void *p, size_t n, unsigned char b) {
  (void)VALGRIND_MAKE_MEM_DEFINED(p, n);
  return all_bytes(p, n, b);
}

static void debug_on(void) {
  cr_assert_eq(zm_debug_enable(), 0, "errno %d", errno);
}

/* ------------------------------------------------------------ behaviour */

Test(debug, layout_and_fills) {
  debug_on();
  unsigned char *p = zm_malloc(opaque(40));
  cr_assert_eq(layout_now(), ZM_LAYOUT_DEBUG);
  cr_assert(filled(p, 40, ZM_DEBUG_FILL_ALLOC));
  cr_assert_eq(zm_usable_size(p), 40, "usable is what was asked");
  cr_assert_eq((uintptr_t)p % alignof(max_align_t), 0);
  unsigned char *z = zm_calloc(opaque(5), 7);
  cr_assert(all_bytes(z, 35, 0));
  zm_free(z);
  zm_free(p);
}

Test(debug, realloc_always_moves_and_keeps_contents) {
  debug_on();
  unsigned char *p = zm_malloc(opaque(64));
  fill_pattern(p, 64, 3);
  uint64_t reallocs = 0;
  for (size_t n = 65; n > 8; n = n * 3 / 4, reallocs++) { /* grow, shrink */
    unsigned char *q = zm_realloc(p, n);
    cr_assert_neq(q, p, "size %zu: did not move", n);
    cr_assert(check_pattern(q, n < 64 ? n : 64, 3));
    if (n > 64)
      cr_assert(filled(q + 64, n - 64, ZM_DEBUG_FILL_ALLOC));
    p = q;
  }
  zm_free(p);
  cr_assert_eq(stats_now().realloc_moved, reallocs);
}

Test(debug, accounting_returns_to_zero) {
  debug_on();
  void *a[50];
  for (size_t i = 0; i < ARRAY_LEN(a); i++)
    a[i] = zm_malloc(opaque(i * 37));
  zm_stats st = stats_now();
  cr_assert_eq(st.live_blocks, 50);
  cr_assert_geq(st.used, 50 * 96);
  cr_assert_eq(zm_debug_check_all(), 50);
  for (size_t i = 0; i < ARRAY_LEN(a); i++)
    a[i] = zm_realloc(a[i], opaque(i * 11 + 1));
  for (size_t i = 0; i < ARRAY_LEN(a); i++)
    zm_free(a[i]);
  st = stats_now();
  cr_assert_eq(st.used, 0);
  cr_assert_eq(st.live_blocks, 0);
  cr_assert_eq(zm_debug_check_all(), 100, "the freed blocks in quarantine");
}

Test(debug, aligned_blocks) {
  debug_on();
  size_t aligns[] = {32, 64, 4096};
  for (size_t i = 0; i < ARRAY_LEN(aligns); i++) {
    unsigned char *p = zm_aligned_alloc(aligns[i], opaque(100));
    cr_assert_not_null(p);
    cr_assert_eq((uintptr_t)p % aligns[i], 0);
    memset(p, 1, 100);
    cr_assert_eq(zm_debug_check_all(), 1 + 2 * i);
    zm_free(p);
    cr_assert_eq(zm_used_memory(), 0);
    p = zm_aligned_alloc(aligns[i], opaque(100));
    zm_free(p);
  }
}

Test(debug, with_tags_and_limits) {
  debug_on();
  zm_tag t = zm_tag_new("debugged");
  cr_assert_neq(t, ZM_TAG_INVALID, "tags with the debug layout");
  void *p = zm_malloc_tag(t, 100);
  cr_assert_eq(layout_now(), ZM_LAYOUT_DEBUG);
  cr_assert_eq(zm_tag_of(p), t);
  cr_assert_eq(zm_tag_used(t), zm_used_memory());
  p = zm_realloc(p, 1000);
  cr_assert_eq(zm_tag_of(p), t, "realloc keeps the tag");
  size_t used = zm_used_memory();
  cr_assert_eq(zm_set_limit(used + 500), 0);
  cr_assert_null(zm_try_malloc(opaque(600)), "the limit counts the debug "
                                             "overhead too");
  void *q = zm_try_malloc(opaque(100));
  cr_assert_not_null(q);
  zm_free(q);
  zm_free(p);
  cr_assert_eq(zm_tag_used(t), 0);
}

Test(debug, fault_injection) {
  debug_on();
  zm_fault_set(2, 0);
  void *a = zm_try_malloc(opaque(10));
  cr_assert_not_null(a);
  cr_assert_null(zm_try_realloc(a, opaque(20)));
  cr_assert_eq(zm_debug_check_all(), 1);
  zm_free(a);
}

Test(debug, quarantine_size) {
  debug_on();
  cr_assert_eq(zm_get_quarantine(), ZM_DEBUG_QUARANTINE_DEFAULT);
  void *first = zm_malloc(opaque(1000));
  size_t held = zm_used_memory(); /* the backend's block, whatever its class */
  zm_free(first);
  for (int i = 1; i < 10; i++)
    zm_free(zm_malloc(opaque(1000)));
  cr_assert_eq(zm_debug_check_all(), 10);
  cr_assert_eq(zm_set_quarantine(2 * held + held / 2), 0);
  cr_assert_eq(zm_debug_check_all(), 2, "two blocks of %zu bytes fit", held);
  cr_assert_eq(zm_configure("quarantine=0"), 0);
  cr_assert_eq(zm_get_quarantine(), 0);
  cr_assert_eq(zm_debug_check_all(), 0);
}

Test(debug, options) {
  cr_assert_eq(zm_configure("debug=1,layout=lean"), -1);
  cr_assert_eq(errno, EINVAL);
  cr_assert_str_eq(zm_last_error(), "'debug=1' conflicts with 'layout=lean'");
  cr_assert_eq(zm_configure("debug=0"), 0);
  cr_assert_eq(zm_configure("layout=debug"), 0, "%s", zm_last_error());
  cr_assert_eq(layout_now(), ZM_LAYOUT_DEBUG);
  cr_assert_eq(zm_configure("debug=1, quarantine=64K"), 0);
  cr_assert_eq(zm_get_quarantine(), 65536);
  zm_free(zm_malloc(1));
  cr_assert_eq(zm_configure("debug=1"), -1);
  cr_assert_eq(errno, EBUSY);
  cr_assert_eq(zm_debug_enable(), -1);
  cr_assert_eq(errno, EBUSY);
}

Test(debug, from_the_environment) {
  cr_assert_eq(setenv("ZMEM_OPTIONS", "debug=1,quarantine=1M", 1), 0);
  zm_free(zm_malloc(opaque(3)));
  cr_assert_eq(layout_now(), ZM_LAYOUT_DEBUG);
  cr_assert_eq(zm_get_quarantine(), 1 << 20);
}

Test(debug, check_all_outside_the_debug_layout) {
  void *p = zm_malloc(opaque(3));
  cr_assert_eq(zm_debug_check_all(), 0);
  zm_free(p);
}

/* ---------------------------------------------------------- death tests */

/* The block the death tests corrupt, allocated in the parent, and the lines
 * where it was allocated and freed. Global and volatile: reachable when the
 * child aborts. */
static unsigned char *volatile blk;
static int alloc_line;

static void new_block(size_t n) {
  debug_on();
  blk = zm_malloc(n); alloc_line = __LINE__;
}

/* The line of the zm_free in free_block, which runs in the child only. */
static const int free_line = __LINE__ + 3;
static void free_block(size_t unused) {
  (void)unused;
  zm_free(blk);
}

/* Runs the corruption in a child and checks it died of SIGABRT after
 * writing exactly `want` (one line). */
static void expect_death(void (*bug)(size_t), const char *want) {
  death d = run_death(bug, 0);
  cr_assert(WIFSIGNALED(d.status) && WTERMSIG(d.status) == SIGABRT,
            "status %#x, stderr \"%s\"", d.status, d.err);
  cr_assert_str_eq(d.err, want);
}

/* "block ADDR (size N) allocated at FILE:LINE" */
static const char *block_words(void) {
  static char s[512];
  snprintf(s, sizeof s, "block %p (size %zu) allocated at %s:%d", (void *)blk,
           zm_usable_size(blk), __FILE__, alloc_line);
  return s;
}

static void skip_under_valgrind(void) {
  if (harness_valgrind())
    cr_skip_test("memcheck reports the write into a freed block itself");
}

static void overflow_by_free(size_t u) {
  (void)u;
  blk[10] = 'x';
  zm_free(blk);
}

Test(debug_death, overflow_found_by_free) {
  new_block(10);
  char want[1024];
  snprintf(want, sizeof want,
           "zmem: buffer overflow: 1 byte written past the end of %s "
           "(found by free)\n",
           block_words());
  expect_death(overflow_by_free, want);
}

static void overflow_by_realloc(size_t u) {
  (void)u;
  memset(blk + 16, 0, 3); /* 3 bytes, from 16 to 18 */
  blk = zm_realloc(blk, 100);
}

Test(debug_death, overflow_found_by_realloc) {
  new_block(16);
  char want[1024];
  snprintf(want, sizeof want,
           "zmem: buffer overflow: 3 bytes written past the end of %s "
           "(found by realloc)\n",
           block_words());
  expect_death(overflow_by_realloc, want);
}

static void far_overflow(size_t u) {
  (void)u;
  blk[13 + 10] = 0; /* the last rear guard byte of a 13-byte block */
  zm_debug_check_all();
}

Test(debug_death, overflow_found_by_check_all) {
  new_block(13);
  char want[1024];
  snprintf(want, sizeof want,
           "zmem: buffer overflow: 11 bytes written past the end of %s "
           "(found by zm_debug_check_all)\n",
           block_words());
  expect_death(far_overflow, want);
}

static void underflow(size_t u) {
  (void)u;
  blk[-2] = 0;
  zm_free(blk);
}

Test(debug_death, underflow_found_by_free) {
  new_block(10);
  char want[1024];
  snprintf(want, sizeof want,
           "zmem: buffer underflow: 2 bytes written before the start of %s "
           "(found by free)\n",
           block_words());
  expect_death(underflow, want);
}

static void double_free(size_t u) {
  free_block(u);
  zm_free(blk);
}

Test(debug_death, double_free) {
  new_block(10);
  char want[1024];
  snprintf(want, sizeof want,
           "zmem: double free of %s, first freed at %s:%d (found by free)\n",
           block_words(), __FILE__, free_line);
  expect_death(double_free, want);
}

static void foreign_free(size_t u) {
  (void)u;
  zm_free(opaque_ptr(blk + 32)); /* inside a block: not one zmem returned */
}

Test(debug_death, pointer_zmem_did_not_return) {
  new_block(64);
  char want[1024];
  snprintf(want, sizeof want,
           "zmem: invalid pointer %p: not a block zmem allocated (or its "
           "header was overwritten) (found by free)\n",
           (void *)(blk + 32));
  expect_death(foreign_free, want);
}

static void write_after_free(size_t u) {
  free_block(u);
  blk[3] = 7;
  zm_debug_check_all();
}

Test(debug_death, write_after_free_found_by_check_all) {
  skip_under_valgrind();
  new_block(10);
  char want[1024];
  snprintf(want, sizeof want,
           "zmem: write after free: byte 3 of %s, freed at %s:%d (found by "
           "zm_debug_check_all)\n",
           block_words(), __FILE__, free_line);
  expect_death(write_after_free, want);
}

static void write_after_free_quarantine(size_t u) {
  /* room for this block alone: the next free pushes it out */
  zm_set_quarantine(zm_used_memory());
  free_block(u);
  blk[9] = 0;
  zm_free(zm_malloc(1));
}

Test(debug_death, write_after_free_found_leaving_the_quarantine) {
  skip_under_valgrind();
  new_block(10);
  char want[1024];
  snprintf(want, sizeof want,
           "zmem: write after free: byte 9 of %s, freed at %s:%d (found by "
           "the quarantine)\n",
           block_words(), __FILE__, free_line);
  expect_death(write_after_free_quarantine, want);
}

/* Without ZMEM_TRACK_SITES the site is the caller's return address, shown
 * with the object it lies in. (zm_malloc)(n) bypasses the macro. */
__attribute__((noinline)) static void *untracked_alloc(size_t n) {
  void *p = (zm_malloc)(n);
  __asm__ volatile("" ::: "memory"); /* no tail call: the site stays here */
  return p;
}

static void untracked_overflow(size_t u) {
  (void)u;
  blk[8] = 0;
  (zm_free)(blk);
}

Test(debug_death, return_address_site) {
  debug_on();
  blk = untracked_alloc(8);
  char want[256];
  snprintf(want, sizeof want,
           "zmem: buffer overflow: 1 byte written past the end of block %p "
           "(size 8) allocated at 0x",
           (void *)blk);
  death d = run_death(untracked_overflow, 0);
  cr_assert(WIFSIGNALED(d.status) && WTERMSIG(d.status) == SIGABRT);
  cr_assert_eq(strncmp(d.err, want, strlen(want)), 0, "stderr \"%s\"", d.err);
  unsigned long pc = strtoul(d.err + strlen(want) - 2, NULL, 16);
  uintptr_t f = (uintptr_t)untracked_alloc;
  cr_assert(pc > f && pc < f + 256, "site %#lx, function at %#lx", pc,
            (unsigned long)f);
  cr_assert(strstr(d.err, "+0x"), "object and offset: \"%s\"", d.err);
  cr_assert(strstr(d.err, ") (found by free)\n"), "\"%s\"", d.err);
}

/* ------------------------------------------------------------ leak report */

static char *report(void) {
  static char buf[4096];
  FILE *f = fmemopen(buf, sizeof buf, "w");
  cr_assert_not_null(f);
  cr_assert_eq(zm_leak_report(f), 0);
  fclose(f);
  return buf;
}

Test(leaks, report_groups_by_site_largest_first) {
  debug_on();
  void *small[3], *big, *one;
  int l1 = __LINE__ + 2;
  for (int i = 0; i < 3; i++)
    small[i] = zm_malloc(opaque(10));
  big = zm_malloc(opaque(100)); int l2 = __LINE__;
  one = zm_strdup("x"); int l3 = __LINE__;
  char want[1024];
  snprintf(want, sizeof want,
           "zmem: 132 bytes in 5 live blocks from 3 sites\n"
           "         100 bytes in      1 block  at %s:%d\n"
           "          30 bytes in      3 blocks at %s:%d\n"
           "           2 bytes in      1 block  at %s:%d\n",
           __FILE__, l2, __FILE__, l1, __FILE__, l3);
  cr_assert_str_eq(report(), want);
  for (int i = 0; i < 3; i++)
    zm_free(small[i]);
  zm_free(big);
  zm_free(one);
  cr_assert_str_eq(report(), "zmem: 0 bytes in 0 live blocks from 0 sites\n");
}

Test(leaks, report_outside_the_debug_layout) {
  void *p = zm_malloc(opaque(10));
  char want[200];
  snprintf(want, sizeof want,
           "zmem: %zu bytes in 1 live block (sites need the debug layout: "
           "debug=1)\n",
           zm_used_memory());
  cr_assert_str_eq(report(), want);
  zm_free(p);
  errno = 0;
  cr_assert_eq(zm_leak_report(NULL), -1);
  cr_assert_eq(errno, EINVAL);
}

static void *volatile kept;

/* The line of the zm_malloc in exit_with_leak, which runs in the child. */
static const int kept_line = __LINE__ + 3;
static void exit_with_leak(size_t leak) {
  cr_assert_eq(zm_configure("leaks=1,debug=1"), 0);
  kept = zm_malloc(24);
  if (!leak)
    zm_free(kept);
  exit(0);
}

Test(leaks, check_at_exit) {
  death d = run_death(exit_with_leak, 1);
  cr_assert(WIFEXITED(d.status), "status %#x", d.status);
  cr_assert_eq(WEXITSTATUS(d.status), ZM_LEAK_EXIT_STATUS, "\"%s\"", d.err);
  char want[512];
  snprintf(want, sizeof want,
           "zmem: 24 bytes in 1 live block from 1 site\n"
           "          24 bytes in      1 block  at %s:%d\n",
           __FILE__, kept_line);
  cr_assert_str_eq(d.err, want);
  d = run_death(exit_with_leak, 0);
  cr_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0);
  cr_assert_str_eq(d.err, "");
}
