/* Backends: user backends in both layouts, zm_set_mem_functions, the set-up
 * rules (EBUSY, EINVAL, ENOTSUP), wrapping the built-in backend, and fault
 * injection: failing the Nth backend call for every N over a sequence. */
#include "fault_backend.h"
#include "harness.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <malloc.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define MAXALIGN alignof(max_align_t)
#define HUGE1 ((size_t)PTRDIFF_MAX + 1)

static bool aligned_to(const void *p, size_t a) {
  return ((uintptr_t)p & (a - 1)) == 0;
}

/* --------------------------------------- a user backend over the C library */

typedef struct libc_counts {
  _Atomic long mallocs, reallocs, frees, usables, aligned;
  _Atomic size_t last_size;
} libc_counts;

static libc_counts counts;

static libc_counts *counts_of(void *ud) {
  cr_assert_eq(ud, &counts, "the backend got the wrong ud");
  return ud;
}
static void *l_malloc(void *ud, size_t n) {
  atomic_fetch_add(&counts_of(ud)->mallocs, 1);
  atomic_store(&counts.last_size, n);
  return malloc(n);
}
static void *l_realloc(void *ud, void *p, size_t n) {
  atomic_fetch_add(&counts_of(ud)->reallocs, 1);
  atomic_store(&counts.last_size, n);
  return realloc(p, n);
}
static void l_free(void *ud, void *p) {
  atomic_fetch_add(&counts_of(ud)->frees, 1);
  free(p);
}
static size_t l_usable(void *ud, const void *p) {
  atomic_fetch_add(&counts_of(ud)->usables, 1);
  return malloc_usable_size((void *)p);
}
static void *l_aligned(void *ud, size_t a, size_t n) {
  atomic_fetch_add(&counts_of(ud)->aligned, 1);
  void *p = NULL;
  return posix_memalign(&p, a, n) == 0 ? p : NULL;
}

static const zm_backend libc_lean = {
    .name = "libc-lean",
    .malloc = l_malloc,
    .realloc = l_realloc,
    .free = l_free,
    .usable_size = l_usable,
    .ud = &counts,
};

static const zm_backend libc_lean_aligned = {
    .name = "libc-lean-aligned",
    .malloc = l_malloc,
    .realloc = l_realloc,
    .free = l_free,
    .usable_size = l_usable,
    .ud = &counts,
    .aligned_alloc = l_aligned,
};

static const zm_backend libc_nosize = {
    .name = "libc-nosize",
    .malloc = l_malloc,
    .realloc = l_realloc,
    .free = l_free,
    .ud = &counts,
};

static void install(const zm_backend *be) {
  SKIP_UNLESS_REPLACEMENT();
  cr_assert_eq(zm_set_backend(be), 0, "zm_set_backend: errno %d", errno);
  cr_assert_str_eq(zm_get_backend()->name, be->name);
}

Test(backend, user_backend_with_usable_size_is_lean) {
  install(&libc_lean);
  zm_stats st = stats_now();
  cr_assert_eq(st.layout, ZM_LAYOUT_LEAN);
  cr_assert_str_eq(st.backend, "libc-lean");
  const size_t sizes[] = {0, 1, 16, 100, 4096, 1 << 20};
  for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
    long m0 = counts.mallocs, r0 = counts.reallocs, f0 = counts.frees;
    size_t used0 = zm_used_memory();
    void *p = zm_malloc(opaque(sizes[i]));
    cr_assert_not_null(p);
    cr_assert_eq(counts.mallocs, m0 + 1, "zm_malloc did not reach malloc");
    cr_assert_eq(zm_used_memory() - used0, malloc_usable_size(p),
                 "lean blocks cost their usable size");
    cr_assert_eq(zm_usable_size(p), malloc_usable_size(p));
    void *q = zm_realloc(p, opaque(sizes[i] + 100));
    cr_assert_not_null(q);
    cr_assert_eq(counts.reallocs, r0 + 1, "zm_realloc did not reach realloc");
    cr_assert_eq(zm_used_memory() - used0, malloc_usable_size(q));
    zm_free(q);
    cr_assert_eq(counts.frees, f0 + 1);
    cr_assert_eq(zm_used_memory(), used0);
  }
  /* calloc goes through malloc and is zeroed. */
  long m0 = counts.mallocs;
  unsigned char *z = zm_calloc(opaque(1000), 3);
  cr_assert_not_null(z);
  cr_assert_eq(counts.mallocs, m0 + 1);
  cr_assert(all_bytes(z, 3000, 0));
  zm_free(z);
  cr_assert_eq(stats_now().layout, ZM_LAYOUT_LEAN);
}

Test(backend, lean_without_aligned_alloc_refuses_large_alignments) {
  install(&libc_lean);
  oom_rec rec = {0};
  zm_set_oom_handler(oom_record, &rec);
  for (size_t a = 1; a <= MAXALIGN; a *= 2) {
    void *p = zm_aligned_alloc(opaque(a), 100);
    cr_assert_not_null(p, "alignment %zu", a);
    cr_assert(aligned_to(p, MAXALIGN));
    zm_free(p);
  }
  size_t used0 = zm_used_memory();
  for (size_t a = MAXALIGN * 2; a <= ((size_t)1 << 20); a *= 2) {
    errno = 0;
    cr_assert_null(zm_aligned_alloc(opaque(a), 100), "alignment %zu", a);
    cr_assert_eq(errno, ENOTSUP, "alignment %zu: errno %d", a, errno);
  }
  cr_assert_eq(rec.calls, 0, "ENOTSUP ran the OOM handler");
  cr_assert_eq(zm_used_memory(), used0);
}

Test(backend, lean_with_aligned_alloc_uses_it) {
  install(&libc_lean_aligned);
  cr_assert_eq(layout_now(), ZM_LAYOUT_LEAN);
  for (size_t a = MAXALIGN * 2; a <= ((size_t)1 << 20); a *= 2) {
    long a0 = counts.aligned;
    size_t used0 = zm_used_memory();
    void *p = zm_aligned_alloc(opaque(a), 100);
    cr_assert_not_null(p);
    cr_assert(aligned_to(p, a));
    cr_assert_eq(counts.aligned, a0 + 1);
    cr_assert_eq(zm_used_memory() - used0, malloc_usable_size(p));
    memset(p, 1, 100);
    zm_free(p);
    cr_assert_eq(zm_used_memory(), used0);
  }
}

Test(backend, user_backend_without_usable_size_uses_header) {
  install(&libc_nosize);
  cr_assert_eq(layout_now(), ZM_LAYOUT_HEADER);
  const size_t sizes[] = {0, 1, 15, 16, 17, 100, 4095, 65536, 1 << 20};
  zm_stats s0 = stats_now();
  void *blocks[ARRAY_LEN(sizes)];
  size_t sum = 0;
  for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
    size_t n = sizes[i] ? sizes[i] : 1;
    size_t used0 = zm_used_memory();
    void *p = zm_malloc(opaque(sizes[i]));
    cr_assert_not_null(p);
    cr_assert(aligned_to(p, MAXALIGN), "size %zu: %p", sizes[i], p);
    cr_assert_eq(atomic_load(&counts.last_size), n + ZM_HEADER_SIZE,
                 "size %zu: the backend was asked for %zu", sizes[i],
                 atomic_load(&counts.last_size));
    cr_assert_eq(zm_usable_size(p), n, "size %zu: usable %zu", sizes[i],
                 zm_usable_size(p));
    cr_assert_eq(zm_used_memory() - used0, n + ZM_HEADER_SIZE,
                 "a header block costs its size + %d", ZM_HEADER_SIZE);
    fill_pattern(p, sizes[i], (unsigned)i);
    blocks[i] = p;
    sum += n + ZM_HEADER_SIZE;
  }
  cr_assert_eq(zm_used_memory() - s0.used, sum);
  for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
    cr_assert(check_pattern(blocks[i], sizes[i], (unsigned)i));
    void *q = zm_realloc(blocks[i], opaque(sizes[i] * 2 + 1));
    cr_assert_not_null(q);
    cr_assert(aligned_to(q, MAXALIGN));
    cr_assert(check_pattern(q, sizes[i], (unsigned)i));
    cr_assert_eq(zm_usable_size(q), sizes[i] * 2 + 1);
    zm_free(q);
  }
  zm_stats s1 = stats_now();
  cr_assert_eq(s1.used, s0.used);
  cr_assert_eq(s1.live_blocks, s0.live_blocks);
}

Test(backend, header_layout_aligned_blocks) {
  install(&libc_nosize);
  zm_stats s0 = stats_now();
  for (int shift = 0; shift <= 20; shift++) {
    size_t a = (size_t)1 << shift;
    const size_t sizes[] = {0, 1, a + 3, 5000};
    for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
      size_t n = sizes[i];
      void *p = zm_aligned_alloc(opaque(a), opaque(n));
      cr_assert_not_null(p, "alignment %zu size %zu", a, n);
      cr_assert(aligned_to(p, a), "alignment %zu: %p", a, p);
      cr_assert(aligned_to(p, MAXALIGN));
      cr_assert_geq(zm_usable_size(p), n);
      fill_pattern(p, zm_usable_size(p), (unsigned)shift);
      /* Grow and shrink: contents stay, max_align_t alignment stays. */
      size_t keep = zm_usable_size(p);
      void *q = zm_realloc(p, opaque(keep + 1000));
      cr_assert_not_null(q);
      cr_assert(aligned_to(q, MAXALIGN));
      cr_assert(check_pattern(q, keep, (unsigned)shift),
                "alignment %zu: grown block lost its contents", a);
      void *r = zm_realloc(q, opaque(keep / 2 + 1));
      cr_assert_not_null(r);
      cr_assert(aligned_to(r, MAXALIGN));
      cr_assert(check_pattern(r, keep / 2 + 1, (unsigned)shift));
      zm_free(r);
      cr_assert_eq(zm_used_memory(), s0.used,
                   "alignment %zu size %zu: accounting off by %zd", a, n,
                   (ptrdiff_t)(zm_used_memory() - s0.used));
    }
  }
  cr_assert_eq(stats_now().live_blocks, s0.live_blocks);
}

/* zm_set_layout(HEADER) over the backend in force (the built-in one, or
 * user-nosize which is in the header layout anyway). */
Test(backend, header_layout_on_request) {
  cr_assert_eq(zm_set_layout(ZM_LAYOUT_HEADER), 0, "errno %d", errno);
  cr_assert_eq(layout_now(), ZM_LAYOUT_HEADER);
  const size_t sizes[] = {0, 1, 100, 4096, 1 << 20};
  for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
    size_t used0 = zm_used_memory();
    void *p = zm_malloc(opaque(sizes[i]));
    cr_assert_not_null(p);
    cr_assert(aligned_to(p, MAXALIGN));
    cr_assert_geq(zm_usable_size(p), sizes[i]);
    cr_assert_eq(zm_used_memory() - used0, zm_usable_size(p) + ZM_HEADER_SIZE);
    memset(p, 7, zm_usable_size(p));
    zm_free(p);
    cr_assert_eq(zm_used_memory(), used0);
  }
  cr_assert_eq(layout_now(), ZM_LAYOUT_HEADER);
}

/* ------------------------------------------------- zm_set_mem_functions */

static _Atomic long plain_mallocs, plain_reallocs, plain_frees;
static void *p_malloc(size_t n) {
  atomic_fetch_add(&plain_mallocs, 1);
  return malloc(n);
}
static void *p_realloc(void *p, size_t n) {
  atomic_fetch_add(&plain_reallocs, 1);
  return realloc(p, n);
}
static void p_free(void *p) {
  atomic_fetch_add(&plain_frees, 1);
  free(p);
}

Test(backend, set_mem_functions_installs_plain_functions) {
  SKIP_UNLESS_REPLACEMENT();
  cr_assert_eq(zm_set_mem_functions(p_malloc, p_realloc, p_free), 0);
  zm_stats st = stats_now();
  cr_assert_eq(st.layout, ZM_LAYOUT_HEADER, "no size query: header layout");
  cr_assert_str_eq(st.backend, "user");
  void *p = zm_malloc(100);
  cr_assert_not_null(p);
  cr_assert(aligned_to(p, MAXALIGN));
  cr_assert_eq(plain_mallocs, 1);
  p = zm_realloc(p, 10000);
  cr_assert_not_null(p);
  /* Under valgrind header blocks move on realloc (malloc, copy, free), so
   * that memcheck follows their contents. */
  unsigned moved = harness_valgrind();
  cr_assert_eq(plain_reallocs, 1 - moved);
  char *s = zm_strdup("built on the malloc hook");
  cr_assert_not_null(s);
  cr_assert_eq(plain_mallocs, 2 + moved);
  void *z = zm_calloc(10, 10);
  cr_assert_not_null(z);
  cr_assert(all_bytes(z, 100, 0));
  cr_assert_eq(plain_mallocs, 3 + moved);
  zm_free(z);
  zm_free(s);
  zm_free(p);
  cr_assert_eq(plain_frees, 3 + moved);
  cr_assert_eq(zm_used_memory(), 0);
}

Test(backend, set_mem_functions_all_null_restores_builtin) {
  SKIP_UNLESS_REPLACEMENT();
  cr_assert_eq(zm_set_mem_functions(p_malloc, p_realloc, p_free), 0);
  cr_assert_str_eq(zm_get_backend()->name, "user");
  cr_assert_eq(zm_set_mem_functions(NULL, NULL, NULL), 0);
  cr_assert_str_eq(zm_get_backend()->name, ZMEM_TEST_BUILTIN_NAME);
  cr_assert_not_null(zm_get_backend()->usable_size);
  cr_assert_eq(layout_now(), ZM_LAYOUT_LEAN);
  void *p = zm_malloc(100);
  cr_assert_not_null(p);
  zm_free(p);
  cr_assert_eq(plain_mallocs + plain_frees, 0, "the plain functions ran");
}

Test(backend, set_mem_functions_some_null_is_einval) {
  SKIP_UNLESS_REPLACEMENT();
  const char *before = zm_get_backend()->name;
  for (int mask = 1; mask < 7; mask++) {
    errno = 0;
    int rc = zm_set_mem_functions(mask & 1 ? p_malloc : NULL,
                                  mask & 2 ? p_realloc : NULL,
                                  mask & 4 ? p_free : NULL);
    cr_assert_eq(rc, -1, "mask %d accepted", mask);
    cr_assert_eq(errno, EINVAL, "mask %d: errno %d", mask, errno);
    cr_assert_str_eq(zm_get_backend()->name, before, "mask %d changed it",
                     mask);
  }
}

Test(backend, set_backend_einval) {
  SKIP_UNLESS_REPLACEMENT();
  const char *before = zm_get_backend()->name;
  zm_backend missing[3] = {libc_lean, libc_lean, libc_lean};
  missing[0].malloc = NULL;
  missing[1].realloc = NULL;
  missing[2].free = NULL;
  errno = 0;
  cr_assert_eq(zm_set_backend(NULL), -1);
  cr_assert_eq(errno, EINVAL);
  for (size_t i = 0; i < ARRAY_LEN(missing); i++) {
    errno = 0;
    cr_assert_eq(zm_set_backend(&missing[i]), -1, "case %zu", i);
    cr_assert_eq(errno, EINVAL, "case %zu", i);
  }
  cr_assert_str_eq(zm_get_backend()->name, before);
}

static void *must_not_run(void *ud, size_t n) {
  (void)ud;
  (void)n;
  cr_assert_fail("zmem called the caller's struct, not its copy");
  return NULL;
}

Test(backend, set_backend_copies_the_struct) {
  SKIP_UNLESS_REPLACEMENT();
  zm_backend mine = libc_lean;
  cr_assert_eq(zm_set_backend(&mine), 0);
  mine.malloc = must_not_run;
  mine.name = "changed";
  void *p = zm_malloc(10);
  cr_assert_not_null(p);
  zm_free(p);
  cr_assert_str_eq(zm_get_backend()->name, "libc-lean");
}

/* ---------------------------------------------------------- set-up rules */

/* zm_last_error says why a backend set too late is refused. */
Test(backend, ebusy_is_explained) {
  if (!harness_replacement())
    cr_skip_test("built with ZMEM_REPLACEMENT=OFF: ENOTSUP, not EBUSY");
  zm_free(zm_malloc(1));
  cr_assert_eq(zm_set_backend(&libc_lean), -1);
  cr_assert_eq(errno, EBUSY);
  cr_assert(strstr(zm_last_error(), "first allocation"), "message: '%s'",
            zm_last_error());
  cr_assert_eq(zm_set_mem_functions(p_malloc, p_realloc, p_free), -1);
  cr_assert(strstr(zm_last_error(), "before any allocation"), "message: '%s'",
            zm_last_error());
}

Test(backend, setup_calls_fail_with_ebusy_after_first_allocation) {
  void *p = zm_malloc(1);
  cr_assert_not_null(p);
  zm_free(p); /* freed: still too late */
  const char *name = zm_get_backend()->name;
  zm_layout layout = layout_now();
  int want = harness_replacement() ? EBUSY : ENOTSUP;
  errno = 0;
  cr_assert_eq(zm_set_backend(&libc_lean), -1);
  cr_assert_eq(errno, want, "zm_set_backend: errno %d", errno);
  errno = 0;
  cr_assert_eq(zm_set_mem_functions(p_malloc, p_realloc, p_free), -1);
  cr_assert_eq(errno, want, "zm_set_mem_functions: errno %d", errno);
  errno = 0;
  cr_assert_eq(zm_set_mem_functions(NULL, NULL, NULL), -1);
  cr_assert_eq(errno, want, "zm_set_mem_functions(NULL...): errno %d", errno);
  const zm_layout layouts[] = {ZM_LAYOUT_LEAN, ZM_LAYOUT_HEADER};
  for (size_t i = 0; i < ARRAY_LEN(layouts); i++) {
    errno = 0;
    cr_assert_eq(zm_set_layout(layouts[i]), -1);
    cr_assert_eq(errno, EBUSY, "zm_set_layout(%d): errno %d", layouts[i],
                 errno);
  }
  cr_assert_str_eq(zm_get_backend()->name, name);
  cr_assert_eq(layout_now(), layout);
  p = zm_malloc(1);
  cr_assert_not_null(p);
  zm_free(p);
  cr_assert_eq(counts.mallocs + plain_mallocs, 0);
}

/* Calls refused before they reach the backend allocate nothing: set-up is
 * still open afterwards. */
Test(backend, refused_calls_do_not_close_setup) {
  SKIP_UNLESS_REPLACEMENT();
  oom_rec rec = {0};
  zm_set_oom_handler(oom_record, &rec);
  cr_assert_null(zm_try_malloc(opaque(HUGE1)));
  cr_assert_null(zm_calloc(opaque(SIZE_MAX), 2));
  cr_assert_null(zm_aligned_alloc(opaque(3), 8));
  cr_assert_eq(zm_set_backend(&libc_lean), 0, "errno %d", errno);
  void *p = zm_malloc(10);
  cr_assert_not_null(p);
  cr_assert_eq(counts.mallocs, 1);
  zm_free(p);
  zm_stats st = stats_now();
  cr_assert_eq(st.failures, 3);
  cr_assert_eq(st.used, 0);
}

Test(backend, set_layout_rules) {
  const int bad[] = {0, 4, -1, 42}; /* 1-3: lean, header, debug */
  for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
    errno = 0;
    cr_assert_eq(zm_set_layout((zm_layout)bad[i]), -1);
    cr_assert_eq(errno, EINVAL, "layout %d: errno %d", bad[i], errno);
  }
  /* Lean needs a size query: the built-in backend has one, user-nosize not. */
  errno = 0;
  int rc = zm_set_layout(ZM_LAYOUT_LEAN);
  if (harness_user_nosize()) {
    cr_assert_eq(rc, -1);
    cr_assert_eq(errno, ENOTSUP);
  } else {
    cr_assert_eq(rc, 0, "errno %d", errno);
  }
  cr_assert_eq(zm_set_layout(ZM_LAYOUT_HEADER), 0);
  cr_assert_eq(layout_now(), ZM_LAYOUT_HEADER, "asked-for layout not reported");
  void *p = zm_malloc(10);
  cr_assert_not_null(p);
  cr_assert_eq(layout_now(), ZM_LAYOUT_HEADER);
  errno = 0;
  cr_assert_eq(zm_set_layout(ZM_LAYOUT_HEADER), -1);
  cr_assert_eq(errno, EBUSY);
  zm_free(p);
}

Test(backend, set_layout_lean_without_usable_size_is_enotsup) {
  install(&libc_nosize);
  errno = 0;
  cr_assert_eq(zm_set_layout(ZM_LAYOUT_LEAN), -1);
  cr_assert_eq(errno, ENOTSUP);
  cr_assert_eq(layout_now(), ZM_LAYOUT_HEADER);
}

Test(backend, replacement_off_refuses_setters) {
  if (harness_replacement())
    cr_skip_test("built with ZMEM_REPLACEMENT=ON: the setters work");
  const zm_backend *cases[] = {&libc_lean, &libc_nosize, NULL};
  for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
    errno = 0;
    cr_assert_eq(zm_set_backend(cases[i]), -1);
    cr_assert_eq(errno, ENOTSUP, "case %zu: errno %d", i, errno);
  }
  errno = 0;
  cr_assert_eq(zm_set_mem_functions(p_malloc, p_realloc, p_free), -1);
  cr_assert_eq(errno, ENOTSUP);
  errno = 0;
  cr_assert_eq(zm_set_mem_functions(NULL, NULL, NULL), -1);
  cr_assert_eq(errno, ENOTSUP);
  cr_assert_str_eq(zm_get_backend()->name, ZMEM_TEST_BUILTIN_NAME);
  void *p = zm_malloc(10);
  cr_assert_not_null(p);
  zm_free(p);
  cr_assert_eq(counts.mallocs + plain_mallocs, 0);
}

/* ------------------------------------------------------- zm_get_backend */

Test(backend, get_backend_is_callable) {
  const zm_backend *be = zm_get_backend();
  cr_assert_not_null(be);
  cr_assert_str_eq(be->name, harness_user_nosize() ? HARNESS_NOSIZE_NAME
                                                   : ZMEM_TEST_BUILTIN_NAME);
  cr_assert_not_null(be->malloc);
  cr_assert_not_null(be->realloc);
  cr_assert_not_null(be->free);
  cr_assert_eq(be->usable_size == NULL, harness_user_nosize());
  void *p = be->malloc(be->ud, 100);
  cr_assert_not_null(p);
  cr_assert(aligned_to(p, MAXALIGN));
  memset(p, 1, 100);
  p = be->realloc(be->ud, p, 1000);
  cr_assert_not_null(p);
  if (be->usable_size)
    cr_assert_geq(be->usable_size(be->ud, p), 1000);
  be->free(be->ud, p);
  if (be->aligned_alloc) {
    void *a = be->aligned_alloc(be->ud, 4096, 10);
    cr_assert_not_null(a);
    cr_assert(aligned_to(a, 4096));
    be->free(be->ud, a);
  }
  cr_assert_eq(zm_used_memory(), 0, "direct backend calls are not counted");
}

/* Take the backend in force, wrap it in a counting backend, install. */
Test(backend, wrapping_the_builtin_backend) {
  SKIP_UNLESS_REPLACEMENT();
  zm_backend base = *zm_get_backend(); /* copy: the pointer is replaced */
  fault_backend *f = fault_install(&base, (fault_opts){true, true});
  cr_assert_not_null(f, "errno %d", errno);
  zm_stats st = stats_now();
  cr_assert_str_eq(st.backend, "fault");
  cr_assert_eq(st.layout, base.usable_size ? ZM_LAYOUT_LEAN : ZM_LAYOUT_HEADER);
  cr_assert_eq(zm_get_backend()->ud, f);

  void *a = zm_malloc(100);
  void *b = zm_calloc(10, 10);
  cr_assert_not_null(a);
  cr_assert_not_null(b);
  cr_assert_eq(f->mallocs, 2);
  a = zm_realloc(a, 5000);
  cr_assert_not_null(a);
  cr_assert_eq(f->reallocs, 1);
  void *c = zm_aligned_alloc(4096, 10);
  cr_assert_not_null(c);
  cr_assert(aligned_to(c, 4096));
  bool lean = st.layout == ZM_LAYOUT_LEAN;
  cr_assert_eq(f->aligned, lean ? 1 : 0);
  cr_assert_eq(f->mallocs, lean ? 2 : 3);
  cr_assert_eq(f->frees, 0);
  zm_free(a);
  zm_free(b);
  zm_free(c);
  cr_assert_eq(f->frees, 3);
  if (lean)
    cr_assert_gt(f->usable, 0, "lean accounting asks the backend for sizes");
  else
    cr_assert_eq(f->usable, 0);
  cr_assert_eq(zm_used_memory(), 0);
}

/* What the backend is never asked: sizes 0 or above PTRDIFF_MAX, realloc of
 * NULL or to 0, overflowing products. */
Test(backend, backend_never_sees_edge_cases) {
  SKIP_UNLESS_REPLACEMENT();
  zm_backend base = *zm_get_backend();
  fault_backend *f = fault_install(&base, (fault_opts){true, true});
  cr_assert_not_null(f);
  oom_rec rec = {0};
  zm_set_oom_handler(oom_record, &rec);
  void *keep = zm_malloc(10);
  cr_assert_not_null(keep);
  long calls = fault_alloc_calls(f);
  const size_t huge[] = {HUGE1, SIZE_MAX / 2 + 7, SIZE_MAX - 16, SIZE_MAX};
  for (size_t i = 0; i < ARRAY_LEN(huge); i++) {
    size_t n = opaque(huge[i]);
    cr_assert_null(zm_malloc(n));
    cr_assert_null(zm_try_malloc(n));
    cr_assert_null(zm_calloc(1, n));
    cr_assert_null(zm_calloc(n, 3));
    cr_assert_null(zm_realloc(NULL, n));
    cr_assert_null(zm_realloc(keep, n));
    cr_assert_null(zm_try_realloc(keep, n));
    cr_assert_null(zm_reallocarray(keep, n, 5));
    cr_assert_null(zm_aligned_alloc(64, n));
    cr_assert_null(zm_aligned_alloc(1 << 20, n));
  }
  /* An alignment above PTRDIFF_MAX is a request above it too. */
  cr_assert_null(zm_aligned_alloc(opaque((size_t)1 << 63), 1));
  cr_assert_eq(fault_alloc_calls(f), calls,
               "oversized requests reached the backend");
  cr_assert_leq(atomic_load(&f->max_size), (size_t)PTRDIFF_MAX);

  void *z[] = {zm_malloc(0),           zm_calloc(0, 0),
               zm_realloc(NULL, 0),    zm_memdup("", 0),
               zm_aligned_alloc(64, 0), zm_aligned_alloc(1, 0),
               zm_strndup("abc", 0)};
  for (size_t i = 0; i < ARRAY_LEN(z); i++)
    cr_assert_not_null(z[i]);
  cr_assert_geq(atomic_load(&f->min_size), 1, "the backend was asked for 0");
  void *r = zm_malloc(10);
  cr_assert_not_null(r);
  cr_assert_null(zm_realloc(r, 0));
  cr_assert_eq(atomic_load(&f->bad_realloc), 0,
               "realloc with NULL or 0 reached the backend");
  for (size_t i = 0; i < ARRAY_LEN(z); i++)
    zm_free(z[i]);
  zm_free(keep);
  cr_assert_eq(zm_used_memory(), 0);
}

/* ------------------------------------------------------ fault injection */

/* One run of a fixed sequence of operations, with the backend armed to fail
 * its Nth call. Every failure must be a NULL with ENOMEM that leaves the
 * other blocks intact; a checked call must run the handler once with the
 * size it asked for, a try call never. */
typedef struct sweep_run {
  unsigned nulls;    /* calls that returned NULL */
  unsigned steps;    /* calls made */
} sweep_run;

typedef struct live_block {
  void *p;
  size_t n;
  unsigned seed;
} live_block;

static oom_rec sweep_rec;

/* Checks one result: on NULL, errno and the handler; on success, stores the
 * block (filled) in *slot. */
static void expect_result(sweep_run *run, void *p, bool checked, size_t asked,
                          const char *what) {
  run->steps++;
  if (p)
    return;
  run->nulls++;
  cr_assert_eq(errno, ENOMEM, "%s: errno %d", what, errno);
  if (checked) {
    cr_assert_eq(sweep_rec.calls, 1, "%s: handler ran %u times", what,
                 sweep_rec.calls);
    cr_assert_eq(sweep_rec.last_size, asked, "%s: handler got %zu, not %zu",
                 what, sweep_rec.last_size, asked);
  } else {
    cr_assert_eq(sweep_rec.calls, 0, "%s: a try call ran the handler", what);
  }
}

static void *alloc_step(sweep_run *run, live_block *b, void *p, size_t n,
                        unsigned seed, bool checked, const char *what) {
  expect_result(run, p, checked, n, what);
  sweep_rec.calls = 0;
  if (p) {
    fill_pattern(p, n, seed);
    *b = (live_block){p, n, seed};
  }
  return p;
}

/* Resizes b with fn; on failure b must be intact. */
static void resize_step(sweep_run *run, live_block *b, void *q, size_t n,
                        bool checked, const char *what) {
  expect_result(run, q, checked, n, what);
  sweep_rec.calls = 0;
  if (!q) {
    cr_assert(check_pattern(b->p, b->n, b->seed), "%s: old block damaged",
              what);
    return;
  }
  size_t keep = b->n < n ? b->n : n;
  cr_assert(check_pattern(q, keep, b->seed), "%s: contents lost", what);
  fill_pattern(q, n, b->seed);
  b->p = q;
  b->n = n;
}

static sweep_run run_try_sequence(void) {
  sweep_run run = {0};
  live_block a = {0}, b = {0}, c = {0};
  sweep_rec.calls = 0;
  errno = 0;
  alloc_step(&run, &a, zm_try_malloc(100), 100, 1, false, "try_malloc");
  errno = 0;
  alloc_step(&run, &b, zm_try_calloc(10, 30), 300, 2, false, "try_calloc");
  if (a.p) {
    errno = 0;
    resize_step(&run, &a, zm_try_realloc(a.p, 5000), 5000, false,
                "try_realloc grow");
    errno = 0;
    resize_step(&run, &a, zm_try_realloc(a.p, 50), 50, false,
                "try_realloc shrink");
  }
  errno = 0;
  alloc_step(&run, &c, zm_try_realloc(NULL, 77), 77, 3, false,
             "try_realloc(NULL)");
  if (b.p) {
    errno = 0;
    resize_step(&run, &b, zm_try_realloc(b.p, 1 << 20), 1 << 20, false,
                "try_realloc to 1 MiB");
  }
  live_block all[] = {a, b, c};
  for (size_t i = 0; i < ARRAY_LEN(all); i++) {
    if (all[i].p)
      cr_assert(check_pattern(all[i].p, all[i].n, all[i].seed));
    zm_free(all[i].p);
  }
  return run;
}

static sweep_run run_checked_sequence(void) {
  sweep_run run = {0};
  live_block a = {0}, b = {0}, c = {0}, d = {0}, e = {0}, g = {0}, h = {0};
  static const char text[] = "fault injection";
  sweep_rec.calls = 0;
  errno = 0;
  alloc_step(&run, &a, zm_malloc(100), 100, 1, true, "malloc");
  errno = 0;
  alloc_step(&run, &b, zm_calloc(10, 30), 300, 2, true, "calloc");
  if (a.p) {
    errno = 0;
    resize_step(&run, &a, zm_realloc(a.p, 5000), 5000, true, "realloc");
  }
  errno = 0;
  alloc_step(&run, &c, zm_aligned_alloc(256, 300), 300, 3, true,
             "aligned_alloc");
  if (c.p)
    cr_assert(aligned_to(c.p, 256));
  errno = 0;
  char *s = zm_strdup(text);
  expect_result(&run, s, true, sizeof text, "strdup");
  sweep_rec.calls = 0;
  if (s) {
    cr_assert_str_eq(s, text);
    d = (live_block){s, sizeof text, 4};
    fill_pattern(s, d.n, 4);
  }
  errno = 0;
  char *t = zm_strndup(text, 5);
  expect_result(&run, t, true, 6, "strndup");
  sweep_rec.calls = 0;
  if (t) {
    cr_assert_str_eq(t, "fault");
    e = (live_block){t, 6, 5};
    fill_pattern(t, 6, 5);
  }
  errno = 0;
  void *m = zm_memdup(text, 8);
  expect_result(&run, m, true, 8, "memdup");
  sweep_rec.calls = 0;
  if (m) {
    cr_assert_eq(memcmp(m, text, 8), 0);
    g = (live_block){m, 8, 6};
    fill_pattern(m, 8, 6);
  }
  if (b.p) {
    errno = 0;
    resize_step(&run, &b, zm_reallocarray(b.p, 20, 30), 600, true,
                "reallocarray");
  }
  if (c.p) {
    errno = 0;
    resize_step(&run, &c, zm_realloc(c.p, 10000), 10000, true,
                "realloc of an aligned block");
  }
  if (a.p) {
    errno = 0;
    resize_step(&run, &a, zm_realloc(a.p, 10), 10, true, "realloc shrink");
  }
  errno = 0;
  alloc_step(&run, &h, zm_realloc(NULL, 77), 77, 7, true, "realloc(NULL)");
  live_block all[] = {a, b, c, d, e, g, h};
  for (size_t i = 0; i < ARRAY_LEN(all); i++) {
    if (all[i].p)
      cr_assert(check_pattern(all[i].p, all[i].n, all[i].seed),
                "block %zu damaged", i);
    zm_free(all[i].p);
  }
  return run;
}

/* Fails call 1, 2, ... until a run completes with nothing injected. */
static void sweep(fault_opts opts, bool checked) {
  SKIP_UNLESS_REPLACEMENT();
  zm_backend base = *zm_get_backend();
  fault_backend *f = fault_install(&base, opts);
  cr_assert_not_null(f);
  zm_set_oom_handler(oom_record, &sweep_rec);
  long n;
  for (n = 1; n < 1000; n++) {
    fault_arm(f, n);
    zm_stats s0 = stats_now();
    sweep_run run = checked ? run_checked_sequence() : run_try_sequence();
    zm_stats s1 = stats_now();
    long injected = atomic_load(&f->injected);
    cr_assert_leq(injected, 1);
    cr_assert_eq(run.nulls, (unsigned)injected,
                 "fail call %ld: %u NULL results, %ld failures injected", n,
                 run.nulls, injected);
    cr_assert_eq(s1.used, s0.used, "fail call %ld: used %zu, baseline %zu", n,
                 s1.used, s0.used);
    cr_assert_eq(s1.live_blocks, s0.live_blocks, "fail call %ld", n);
    cr_assert_eq(s1.failures - s0.failures, (uint64_t)injected);
    if (injected == 0)
      break; /* the sequence has fewer than n backend calls */
  }
  fault_arm(f, 0);
  cr_assert_geq(n, checked ? 10 : 6, "only %ld backend calls swept", n - 1);
  cr_assert_eq(zm_used_memory(), 0);
  cr_assert_eq(stats_now().live_blocks, 0);
}

Test(backend, fault_sweep_try_calls) { sweep((fault_opts){true, true}, false); }

Test(backend, fault_sweep_checked_calls) {
  sweep((fault_opts){true, true}, true);
}

Test(backend, fault_sweep_header_layout) {
  sweep((fault_opts){false, false}, true);
  cr_assert_eq(layout_now(), ZM_LAYOUT_HEADER);
}

Test(backend, fault_sweep_header_layout_try_calls) {
  sweep((fault_opts){false, false}, false);
  cr_assert_eq(layout_now(), ZM_LAYOUT_HEADER);
}
