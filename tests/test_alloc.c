/* The allocation entry points and their edge cases, as tables. */
#include "harness.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAXALIGN alignof(max_align_t)
#define HUGE1 ((size_t)PTRDIFF_MAX + 1)
/* Sizes a front-end passes on but no machine can meet (beyond any 64-bit
 * address space in use), so the backend itself fails. */
#define UNMEETABLE1 ((size_t)1 << 57)
#define UNMEETABLE2 ((size_t)1 << 60)

static bool aligned_to(const void *p, size_t a) {
  return ((uintptr_t)p & (a - 1)) == 0;
}

/* Sizes above PTRDIFF_MAX: every entry point refuses them itself. */
static const size_t oversized[] = {
    HUGE1,           HUGE1 + 1,        HUGE1 + 4096,  SIZE_MAX / 2 + 12345,
    SIZE_MAX - 4096, SIZE_MAX - 16,    SIZE_MAX - 15, SIZE_MAX - 1,
    SIZE_MAX,
};

/* Sizes that pass the front-end and make the backend fail. */
static const size_t unmeetable[] = {UNMEETABLE1, UNMEETABLE2,
                                    (size_t)PTRDIFF_MAX - 8192};

/* count * size products that overflow size_t. */
static const struct {
  size_t count, size;
} overflows[] = {
    {SIZE_MAX, 2},
    {2, SIZE_MAX},
    {SIZE_MAX, SIZE_MAX},
    {SIZE_MAX / 2 + 1, 2},
    {(size_t)1 << 32, (size_t)1 << 32},
    {SIZE_MAX / 3 + 1, 3},
    {3, SIZE_MAX / 3 + 1},
    {SIZE_MAX / 16 + 1, 16},
    {(size_t)1 << 63, 2},
    {65537, SIZE_MAX / 65536},
    {SIZE_MAX / 4096 + 1, 4096},
};

/* Returns a counted block of n bytes filled with pattern `seed`. */
static void *filled(size_t n, unsigned seed) {
  void *p = zm_malloc(n);
  cr_assert_not_null(p);
  fill_pattern(p, n, seed);
  return p;
}

/* ------------------------------------------------------------- size 0 */

static char src_byte[1] = {'x'};

static void *z_malloc(void) { return zm_malloc(opaque(0)); }
static void *z_try_malloc(void) { return zm_try_malloc(opaque(0)); }
static void *z_calloc00(void) { return zm_calloc(opaque(0), opaque(0)); }
static void *z_calloc0n(void) { return zm_calloc(opaque(0), 8); }
static void *z_calloc_n0(void) { return zm_calloc(8, opaque(0)); }
static void *z_try_calloc(void) { return zm_try_calloc(opaque(0), 1); }
static void *z_realloc_null(void) { return zm_realloc(NULL, opaque(0)); }
static void *z_try_realloc_null(void) {
  return zm_try_realloc(NULL, opaque(0));
}
static void *z_reallocarray_null(void) {
  return zm_reallocarray(NULL, opaque(0), 4);
}
static void *z_memdup(void) { return zm_memdup(src_byte, opaque(0)); }
static void *z_aligned_small(void) { return zm_aligned_alloc(8, opaque(0)); }
static void *z_aligned_max(void) {
  return zm_aligned_alloc(MAXALIGN, opaque(0));
}
static void *z_aligned_big(void) { return zm_aligned_alloc(4096, opaque(0)); }

static const struct {
  const char *name;
  void *(*make)(void);
} zero_cases[] = {
    {"zm_malloc(0)", z_malloc},
    {"zm_try_malloc(0)", z_try_malloc},
    {"zm_calloc(0, 0)", z_calloc00},
    {"zm_calloc(0, 8)", z_calloc0n},
    {"zm_calloc(8, 0)", z_calloc_n0},
    {"zm_try_calloc(0, 1)", z_try_calloc},
    {"zm_realloc(NULL, 0)", z_realloc_null},
    {"zm_try_realloc(NULL, 0)", z_try_realloc_null},
    {"zm_reallocarray(NULL, 0, 4)", z_reallocarray_null},
    {"zm_memdup(p, 0)", z_memdup},
    {"zm_aligned_alloc(8, 0)", z_aligned_small},
    {"zm_aligned_alloc(max_align, 0)", z_aligned_max},
    {"zm_aligned_alloc(4096, 0)", z_aligned_big},
};

Test(alloc, zero_size_blocks_are_unique_and_freeable) {
  enum { PER = 8 };
  void *ptrs[ARRAY_LEN(zero_cases) * PER];
  zm_stats s0 = stats_now();
  size_t k = 0;
  for (size_t c = 0; c < ARRAY_LEN(zero_cases); c++) {
    for (int j = 0; j < PER; j++) {
      void *p = zero_cases[c].make();
      cr_assert_not_null(p, "%s returned NULL", zero_cases[c].name);
      cr_assert(aligned_to(p, MAXALIGN), "%s: %p misaligned",
                zero_cases[c].name, p);
      ptrs[k++] = p;
    }
  }
  for (size_t i = 0; i < k; i++)
    for (size_t j = 0; j < i; j++)
      cr_assert_neq(ptrs[i], ptrs[j], "%s and %s gave the same pointer",
                    zero_cases[i / PER].name, zero_cases[j / PER].name);
  zm_stats s1 = stats_now();
  cr_assert_eq(s1.live_blocks, s0.live_blocks + k);
  cr_assert_gt(s1.used, s0.used);
  for (size_t i = 0; i < k; i++)
    zm_free(ptrs[i]);
  zm_stats s2 = stats_now();
  cr_assert_eq(s2.used, s0.used);
  cr_assert_eq(s2.live_blocks, s0.live_blocks);
}

/* ----------------------------------------------------------- overflow */

Test(alloc, calloc_overflow_fails_with_enomem) {
  oom_rec rec = {0};
  zm_set_oom_handler(oom_record, &rec);
  size_t used0 = zm_used_memory();
  for (size_t i = 0; i < ARRAY_LEN(overflows); i++) {
    size_t c = opaque(overflows[i].count), s = opaque(overflows[i].size);
    size_t product;
    cr_assert(__builtin_mul_overflow(c, s, &product), "case %zu: table", i);

    errno = 0;
    rec.calls = 0;
    cr_assert_null(zm_calloc(c, s), "case %zu: zm_calloc", i);
    cr_assert_eq(errno, ENOMEM, "case %zu: zm_calloc errno %d", i, errno);
    cr_assert_eq(rec.calls, 1, "case %zu: handler calls %u", i, rec.calls);
    cr_assert_eq(rec.last_size, SIZE_MAX, "case %zu: handler size", i);

    errno = 0;
    rec.calls = 0;
    cr_assert_null(zm_try_calloc(c, s), "case %zu: zm_try_calloc", i);
    cr_assert_eq(errno, ENOMEM, "case %zu: zm_try_calloc errno", i);
    cr_assert_eq(rec.calls, 0, "case %zu: try variant called handler", i);

    errno = 0;
    rec.calls = 0;
    cr_assert_null(zm_reallocarray(NULL, c, s), "case %zu", i);
    cr_assert_eq(errno, ENOMEM, "case %zu: reallocarray(NULL) errno", i);
    cr_assert_eq(rec.calls, 1);
    cr_assert_eq(rec.last_size, SIZE_MAX);
  }
  cr_assert_eq(zm_used_memory(), used0);
}

Test(alloc, reallocarray_overflow_keeps_block) {
  oom_rec rec = {0};
  zm_set_oom_handler(oom_record, &rec);
  void *p = filled(300, 7);
  size_t usable = zm_usable_size(p);
  zm_stats s0 = stats_now();
  for (size_t i = 0; i < ARRAY_LEN(overflows); i++) {
    errno = 0;
    rec.calls = 0;
    void *q = zm_reallocarray(p, opaque(overflows[i].count),
                              opaque(overflows[i].size));
    cr_assert_null(q, "case %zu: a short block", i);
    cr_assert_eq(errno, ENOMEM, "case %zu", i);
    cr_assert_eq(rec.calls, 1, "case %zu", i);
    cr_assert_eq(rec.last_size, SIZE_MAX, "case %zu", i);
    cr_assert(check_pattern(p, 300, 7), "case %zu: contents changed", i);
    cr_assert_eq(zm_usable_size(p), usable, "case %zu", i);
  }
  zm_stats s1 = stats_now();
  cr_assert_eq(s1.used, s0.used);
  cr_assert_eq(s1.live_blocks, s0.live_blocks);
  zm_free(p);
}

/* ---------------------------------------------- requests above PTRDIFF_MAX */

typedef struct big_call {
  const char *name;
  void *(*call)(size_t n, void *old);
  bool checked;
  bool resizes_old;
} big_call;

static void *b_malloc(size_t n, void *o) {
  (void)o;
  return zm_malloc(n);
}
static void *b_try_malloc(size_t n, void *o) {
  (void)o;
  return zm_try_malloc(n);
}
static void *b_calloc_1n(size_t n, void *o) {
  (void)o;
  return zm_calloc(1, n);
}
static void *b_calloc_n1(size_t n, void *o) {
  (void)o;
  return zm_calloc(n, 1);
}
static void *b_try_calloc(size_t n, void *o) {
  (void)o;
  return zm_try_calloc(1, n);
}
static void *b_realloc_null(size_t n, void *o) {
  (void)o;
  return zm_realloc(NULL, n);
}
static void *b_try_realloc_null(size_t n, void *o) {
  (void)o;
  return zm_try_realloc(NULL, n);
}
static void *b_realloc(size_t n, void *o) { return zm_realloc(o, n); }
static void *b_try_realloc(size_t n, void *o) { return zm_try_realloc(o, n); }
static void *b_reallocarray(size_t n, void *o) {
  return zm_reallocarray(o, 1, n);
}
static void *b_aligned16(size_t n, void *o) {
  (void)o;
  return zm_aligned_alloc(MAXALIGN, n);
}
static void *b_aligned64(size_t n, void *o) {
  (void)o;
  return zm_aligned_alloc(64, n);
}
static void *b_aligned1m(size_t n, void *o) {
  (void)o;
  return zm_aligned_alloc((size_t)1 << 20, n);
}

static const big_call big_calls[] = {
    {"zm_malloc", b_malloc, true, false},
    {"zm_try_malloc", b_try_malloc, false, false},
    {"zm_calloc(1, n)", b_calloc_1n, true, false},
    {"zm_calloc(n, 1)", b_calloc_n1, true, false},
    {"zm_try_calloc", b_try_calloc, false, false},
    {"zm_realloc(NULL, n)", b_realloc_null, true, false},
    {"zm_try_realloc(NULL, n)", b_try_realloc_null, false, false},
    {"zm_realloc(p, n)", b_realloc, true, true},
    {"zm_try_realloc(p, n)", b_try_realloc, false, true},
    {"zm_reallocarray(p, 1, n)", b_reallocarray, true, true},
    {"zm_aligned_alloc(max_align, n)", b_aligned16, true, false},
    {"zm_aligned_alloc(64, n)", b_aligned64, true, false},
    {"zm_aligned_alloc(1 MiB, n)", b_aligned1m, true, false},
};

/* Runs every big_call with every size; each must fail with ENOMEM, call the
 * handler exactly when checked, and leave the old block and the accounting
 * as they were. */
static void expect_all_fail(const size_t *sizes, size_t nsizes) {
  oom_rec rec = {0};
  zm_set_oom_handler(oom_record, &rec);
  void *old = filled(123, 3);
  size_t usable = zm_usable_size(old);
  zm_stats s0 = stats_now();
  unsigned fails = 0;
  for (size_t c = 0; c < ARRAY_LEN(big_calls); c++) {
    for (size_t i = 0; i < nsizes; i++) {
      const big_call *bc = &big_calls[c];
      rec.calls = 0;
      errno = 0;
      void *p = bc->call(opaque(sizes[i]), old);
      fails++;
      cr_assert_null(p, "%s(%zu) succeeded", bc->name, sizes[i]);
      cr_assert_eq(errno, ENOMEM, "%s(%zu): errno %d", bc->name, sizes[i],
                   errno);
      cr_assert_eq(rec.calls, bc->checked ? 1u : 0u,
                   "%s(%zu): handler called %u times", bc->name, sizes[i],
                   rec.calls);
      if (bc->checked)
        cr_assert_eq(rec.last_size, sizes[i], "%s: handler got %zu, not %zu",
                     bc->name, rec.last_size, sizes[i]);
      cr_assert(check_pattern(old, 123, 3), "%s: old block changed", bc->name);
      cr_assert_eq(zm_usable_size(old), usable);
    }
  }
  zm_stats s1 = stats_now();
  cr_assert_eq(s1.used, s0.used, "a failure changed the accounting");
  cr_assert_eq(s1.live_blocks, s0.live_blocks);
  cr_assert_eq(s1.failures - s0.failures, fails);
  zm_free(old);
}

Test(alloc, requests_above_ptrdiff_max_fail_with_enomem) {
  expect_all_fail(oversized, ARRAY_LEN(oversized));
}

Test(alloc, requests_the_backend_cannot_meet_fail_with_enomem) {
  expect_all_fail(unmeetable, ARRAY_LEN(unmeetable));
}

Test(alloc, try_variants_never_call_the_handler) {
  oom_rec rec = {0};
  zm_set_oom_handler(oom_record, &rec);
  void *old = filled(64, 9);
  const size_t bad[] = {HUGE1, SIZE_MAX, UNMEETABLE1, UNMEETABLE2};
  for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
    size_t n = opaque(bad[i]);
    errno = 0;
    cr_assert_null(zm_try_malloc(n));
    cr_assert_eq(errno, ENOMEM);
    errno = 0;
    cr_assert_null(zm_try_calloc(1, n));
    cr_assert_eq(errno, ENOMEM);
    errno = 0;
    cr_assert_null(zm_try_calloc(n, 1));
    cr_assert_eq(errno, ENOMEM);
    errno = 0;
    cr_assert_null(zm_try_realloc(NULL, n));
    cr_assert_eq(errno, ENOMEM);
    errno = 0;
    cr_assert_null(zm_try_realloc(old, n));
    cr_assert_eq(errno, ENOMEM);
  }
  for (size_t i = 0; i < ARRAY_LEN(overflows); i++) {
    errno = 0;
    cr_assert_null(zm_try_calloc(opaque(overflows[i].count),
                                 opaque(overflows[i].size)));
    cr_assert_eq(errno, ENOMEM);
  }
  cr_assert_eq(rec.calls, 0, "a try variant called the OOM handler %u times",
               rec.calls);
  cr_assert(check_pattern(old, 64, 9));
  zm_free(old);
}

/* -------------------------------------------------- realloc edge cases */

static const size_t some_sizes[] = {0,   1,    15,    16,      17,
                                    100, 4096, 65536, 1 << 20, 3 << 20};

Test(alloc, realloc_null_is_malloc) {
  for (size_t i = 0; i < ARRAY_LEN(some_sizes); i++) {
    size_t n = some_sizes[i];
    for (int how = 0; how < 3; how++) {
      zm_stats s0 = stats_now();
      void *p = how == 0   ? zm_realloc(NULL, opaque(n))
                : how == 1 ? zm_try_realloc(NULL, opaque(n))
                           : zm_reallocarray(NULL, opaque(n), 1);
      cr_assert_not_null(p, "size %zu, variant %d", n, how);
      cr_assert(aligned_to(p, MAXALIGN));
      cr_assert_geq(zm_usable_size(p), n);
      memset(p, 0xa5, n);
      zm_stats s1 = stats_now();
      cr_assert_eq(s1.live_blocks, s0.live_blocks + 1);
      cr_assert_eq(s1.used - s0.used, block_cost(p),
                   "size %zu: counted %zu, block costs %zu", n,
                   s1.used - s0.used, block_cost(p));
      zm_free(p);
      cr_assert_eq(zm_used_memory(), s0.used);
    }
  }
}

Test(alloc, realloc_to_zero_frees_and_returns_null) {
  const int sentinels[] = {0, EINVAL, ENOMEM, 4242};
  for (size_t i = 0; i < ARRAY_LEN(some_sizes); i++) {
    for (int how = 0; how < 4; how++) {
      zm_stats s0 = stats_now();
      void *p = filled(some_sizes[i], 1);
      int sentinel = sentinels[(i + (size_t)how) % ARRAY_LEN(sentinels)];
      errno = sentinel;
      void *q = how == 0   ? zm_realloc(p, opaque(0))
                : how == 1 ? zm_try_realloc(p, opaque(0))
                : how == 2 ? zm_reallocarray(p, opaque(0), 8)
                           : zm_reallocarray(p, 8, opaque(0));
      cr_assert_eq(errno, sentinel, "size %zu variant %d: errno %d",
                   some_sizes[i], how, errno);
      cr_assert_null(q, "size %zu variant %d", some_sizes[i], how);
      zm_stats s1 = stats_now();
      cr_assert_eq(s1.used, s0.used, "size %zu variant %d: not freed",
                   some_sizes[i], how);
      cr_assert_eq(s1.live_blocks, s0.live_blocks);
    }
  }
}

Test(alloc, free_null_does_nothing) {
  const int sentinels[] = {0, EINVAL, ENOMEM, 77};
  for (size_t i = 0; i < ARRAY_LEN(sentinels); i++) {
    zm_stats s0 = stats_now();
    errno = sentinels[i];
    zm_free(NULL);
    cr_assert_eq(errno, sentinels[i]);
    zm_free_sized(NULL, 0);
    zm_free_sized(NULL, 100);
    cr_assert_eq(errno, sentinels[i]);
    zm_stats s1 = stats_now();
    cr_assert_eq(s1.used, s0.used);
    cr_assert_eq(s1.free_calls, s0.free_calls, "free(NULL) was counted");
    cr_assert_eq(s1.live_blocks, s0.live_blocks);
  }
}

Test(alloc, free_preserves_errno) {
  const int sentinels[] = {0, EINVAL, ENOMEM, EBADF, 31337};
  const size_t sizes[] = {0, 1, 100, 4096, 200000, 1 << 20, 64 << 20};
  for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
    for (size_t j = 0; j < ARRAY_LEN(sentinels); j++) {
      void *p = zm_malloc(opaque(sizes[i]));
      cr_assert_not_null(p);
      errno = sentinels[j];
      zm_free(p);
      cr_assert_eq(errno, sentinels[j], "zm_free of %zu bytes: errno %d",
                   sizes[i], errno);
      p = zm_malloc(opaque(sizes[i]));
      cr_assert_not_null(p);
      errno = sentinels[j];
      zm_free_sized(p, sizes[i]);
      cr_assert_eq(errno, sentinels[j], "zm_free_sized of %zu: errno %d",
                   sizes[i], errno);
    }
  }
}

Test(alloc, failed_realloc_leaves_block_valid_and_counted) {
  const size_t olds[] = {1, 100, 5000, 1 << 20};
  const size_t news[] = {HUGE1, SIZE_MAX, UNMEETABLE1, UNMEETABLE2};
  oom_rec rec = {0};
  zm_set_oom_handler(oom_record, &rec);
  for (size_t i = 0; i < ARRAY_LEN(olds); i++) {
    for (size_t j = 0; j < ARRAY_LEN(news); j++) {
      for (int checked = 0; checked < 2; checked++) {
        void *p = filled(olds[i], (unsigned)i);
        size_t usable = zm_usable_size(p), cost = block_cost(p);
        zm_stats s0 = stats_now();
        rec.calls = 0;
        errno = 0;
        void *q = checked ? zm_realloc(p, opaque(news[j]))
                          : zm_try_realloc(p, opaque(news[j]));
        cr_assert_null(q, "%zu -> %zu succeeded", olds[i], news[j]);
        cr_assert_eq(errno, ENOMEM);
        cr_assert_eq(rec.calls, checked ? 1u : 0u);
        cr_assert(check_pattern(p, olds[i], (unsigned)i),
                  "%zu -> %zu: contents changed", olds[i], news[j]);
        cr_assert_eq(zm_usable_size(p), usable);
        zm_stats s1 = stats_now();
        cr_assert_eq(s1.used, s0.used, "%zu -> %zu: accounting changed",
                     olds[i], news[j]);
        cr_assert_eq(s1.live_blocks, s0.live_blocks);
        cr_assert_eq(s1.failures, s0.failures + 1);
        /* Still a live block: it can grow and be freed. */
        q = zm_realloc(p, olds[i] + 1000);
        cr_assert_not_null(q);
        cr_assert(check_pattern(q, olds[i], (unsigned)i));
        zm_free(q);
        cr_assert_eq(zm_used_memory(), s0.used - cost);
      }
    }
  }
}

/* ---------------------------------------------------------- alignment */

/* Every way to get a plain block of n bytes. */
static void *a_malloc(size_t n) { return zm_malloc(n); }
static void *a_try_malloc(size_t n) { return zm_try_malloc(n); }
static void *a_calloc(size_t n) { return zm_calloc(1, n); }
static void *a_calloc_bytes(size_t n) { return zm_calloc(n, 1); }
static void *a_try_calloc(size_t n) { return zm_try_calloc(n, 1); }
static void *a_realloc_null(size_t n) { return zm_realloc(NULL, n); }
static void *a_realloc_grow(size_t n) {
  void *p = zm_malloc(1);
  cr_assert_not_null(p);
  void *q = zm_realloc(p, n);
  if (!q && n == 0)
    return zm_malloc(0);
  return q;
}
static void *a_try_realloc_shrink(size_t n) {
  void *p = zm_malloc(n + 5000);
  cr_assert_not_null(p);
  void *q = zm_try_realloc(p, n);
  if (!q && n == 0)
    return zm_malloc(0);
  return q;
}
static void *a_memdup(size_t n) {
  static const char zeros[4096];
  return n <= sizeof zeros ? zm_memdup(zeros, n) : zm_malloc(n);
}

static const struct {
  const char *name;
  void *(*make)(size_t n);
} makers[] = {
    {"zm_malloc", a_malloc},
    {"zm_try_malloc", a_try_malloc},
    {"zm_calloc(1, n)", a_calloc},
    {"zm_calloc(n, 1)", a_calloc_bytes},
    {"zm_try_calloc", a_try_calloc},
    {"zm_realloc(NULL, n)", a_realloc_null},
    {"zm_realloc grown", a_realloc_grow},
    {"zm_try_realloc shrunk", a_try_realloc_shrink},
    {"zm_memdup", a_memdup},
};

Test(alloc, every_block_is_max_aligned) {
  size_t sizes[300 + 3 * 25];
  size_t ns = 0;
  for (size_t n = 0; n < 300; n++)
    sizes[ns++] = n;
  for (int shift = 9; shift < 34 - 9; shift++) {
    sizes[ns++] = ((size_t)1 << shift) - 1;
    sizes[ns++] = (size_t)1 << shift;
    sizes[ns++] = ((size_t)1 << shift) + 1;
  }
  zm_stats s0 = stats_now();
  for (size_t m = 0; m < ARRAY_LEN(makers); m++) {
    for (size_t i = 0; i < ns; i++) {
      void *p = makers[m].make(opaque(sizes[i]));
      cr_assert_not_null(p, "%s(%zu)", makers[m].name, sizes[i]);
      cr_assert(aligned_to(p, MAXALIGN), "%s(%zu) = %p is not aligned to %zu",
                makers[m].name, sizes[i], p, (size_t)MAXALIGN);
      cr_assert_geq(zm_usable_size(p), sizes[i]);
      zm_free(p);
    }
  }
  zm_stats s1 = stats_now();
  cr_assert_eq(s1.used, s0.used);
  cr_assert_eq(s1.live_blocks, s0.live_blocks);
}

Test(alloc, aligned_alloc_every_power_of_two) {
  zm_stats s0 = stats_now();
  for (int shift = 0; shift <= 20; shift++) {
    size_t a = (size_t)1 << shift;
    const size_t sizes[] = {0,     1,         a - 1, a,   a + 1,
                            2 * a, 3 * a + 5, 1000,  512, 1024};
    void *ptrs[ARRAY_LEN(sizes)];
    for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
      errno = 0;
      void *p = zm_aligned_alloc(opaque(a), opaque(sizes[i]));
      cr_assert_not_null(p, "alignment %zu size %zu: errno %d", a, sizes[i],
                         errno);
      cr_assert(aligned_to(p, a), "alignment %zu: %p", a, p);
      cr_assert(aligned_to(p, MAXALIGN), "alignment %zu: %p", a, p);
      cr_assert_geq(zm_usable_size(p), sizes[i]);
      fill_pattern(p, sizes[i], (unsigned)(shift * 16 + (int)i));
      ptrs[i] = p;
    }
    /* All live at once: no two overlap. */
    for (size_t i = 0; i < ARRAY_LEN(sizes); i++)
      cr_assert(check_pattern(ptrs[i], sizes[i],
                              (unsigned)(shift * 16 + (int)i)),
                "alignment %zu size %zu: block overwritten", a, sizes[i]);
    for (size_t i = 0; i < ARRAY_LEN(sizes); i++)
      zm_free(ptrs[i]);
  }
  zm_stats s1 = stats_now();
  cr_assert_eq(s1.used, s0.used);
  cr_assert_eq(s1.live_blocks, s0.live_blocks);
  cr_assert_eq(s1.aligned_calls - s0.aligned_calls, 21 * 10);
}

Test(alloc, aligned_alloc_rejects_bad_alignments) {
  const size_t bad[] = {0,
                        3,
                        5,
                        6,
                        7,
                        12,
                        24,
                        48,
                        96,
                        100,
                        1000,
                        ((size_t)1 << 20) + 1,
                        ((size_t)1 << 20) + 16,
                        3 << 20,
                        (size_t)PTRDIFF_MAX,
                        SIZE_MAX / 2 + 2,
                        SIZE_MAX - 1,
                        SIZE_MAX};
  oom_rec rec = {0};
  zm_set_oom_handler(oom_record, &rec);
  zm_stats s0 = stats_now();
  for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
    const size_t sizes[] = {0, 1, 64, HUGE1};
    for (size_t j = 0; j < ARRAY_LEN(sizes); j++) {
      errno = 0;
      void *p = zm_aligned_alloc(opaque(bad[i]), opaque(sizes[j]));
      cr_assert_null(p, "alignment %zu accepted", bad[i]);
      cr_assert_eq(errno, EINVAL, "alignment %zu size %zu: errno %d", bad[i],
                   sizes[j], errno);
    }
  }
  cr_assert_eq(rec.calls, 0, "EINVAL ran the OOM handler");
  zm_stats s1 = stats_now();
  cr_assert_eq(s1.used, s0.used);
  cr_assert_eq(s1.live_blocks, s0.live_blocks);
}

Test(alloc, aligned_alloc_impossible_alignment_is_enomem) {
  /* valgrind's memalign aborts ("the 'impossible' happened") on 1 << 62,
   * which the C library refuses with ENOMEM; 1 << 63 never reaches it. */
  const size_t aligns[] = {(size_t)1 << 63, (size_t)1 << 62};
  const size_t naligns = harness_valgrind() ? 1 : ARRAY_LEN(aligns);
  const size_t sizes[] = {0, 1, 4096};
  oom_rec rec = {0};
  zm_set_oom_handler(oom_record, &rec);
  zm_stats s0 = stats_now();
  for (size_t i = 0; i < naligns; i++) {
    for (size_t j = 0; j < ARRAY_LEN(sizes); j++) {
      rec.calls = 0;
      errno = 0;
      void *p = zm_aligned_alloc(opaque(aligns[i]), opaque(sizes[j]));
      cr_assert_null(p, "alignment %zu size %zu", aligns[i], sizes[j]);
      cr_assert_eq(errno, ENOMEM, "alignment %zu size %zu: errno %d",
                   aligns[i], sizes[j], errno);
      cr_assert_eq(rec.calls, 1);
    }
  }
  zm_stats s1 = stats_now();
  cr_assert_eq(s1.used, s0.used);
  cr_assert_eq(s1.live_blocks, s0.live_blocks);
}

/* ------------------------------------------------------------ contents */

Test(alloc, calloc_zeroes) {
  const struct {
    size_t count, size;
  } cases[] = {{1, 1},    {1, 7},       {3, 5},     {16, 16},
               {100, 10}, {1, 4096},    {4096, 1},  {7, 1000},
               {256, 1024}, {1, 4 << 20}, {1 << 20, 8}};
  for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
    size_t n = cases[i].count * cases[i].size;
    for (int try_variant = 0; try_variant < 2; try_variant++) {
      /* Dirty memory of the same size first, so reuse would show. */
      void *dirty = zm_malloc(opaque(n));
      cr_assert_not_null(dirty);
      memset(dirty, 0xff, n);
      zm_free(dirty);
      void *p = try_variant ? zm_try_calloc(opaque(cases[i].count),
                                            opaque(cases[i].size))
                            : zm_calloc(opaque(cases[i].count),
                                        opaque(cases[i].size));
      cr_assert_not_null(p);
      cr_assert(all_bytes(p, n, 0), "calloc(%zu, %zu) not zeroed",
                cases[i].count, cases[i].size);
      zm_free(p);
    }
  }
}

Test(alloc, realloc_keeps_contents) {
  const struct {
    size_t from, to;
  } cases[] = {{1, 2},          {8, 9},          {15, 16},
               {16, 17},        {31, 100},       {100, 31},
               {1000, 1000},    {1000, 1001},    {4096, 8192},
               {8192, 4096},    {100, 1 << 20},  {1 << 20, 100},
               {1 << 20, 4 << 20}, {4 << 20, 1 << 20}, {200000, 200001},
               {0, 64},         {64, 1}};
  zm_stats s0 = stats_now();
  for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
    size_t from = cases[i].from, to = cases[i].to;
    size_t keep = from < to ? from : to;
    for (int how = 0; how < 3; how++) {
      void *p = zm_malloc(opaque(from));
      cr_assert_not_null(p);
      fill_pattern(p, from, (unsigned)i);
      void *q = how == 0   ? zm_realloc(p, opaque(to))
                : how == 1 ? zm_try_realloc(p, opaque(to))
                           : zm_reallocarray(p, opaque(to), 1);
      cr_assert_not_null(q, "%zu -> %zu (variant %d)", from, to, how);
      cr_assert(aligned_to(q, MAXALIGN));
      cr_assert_geq(zm_usable_size(q), to);
      cr_assert(check_pattern(q, keep, (unsigned)i),
                "%zu -> %zu (variant %d): contents lost", from, to, how);
      memset(q, 0x3c, to);
      zm_stats s1 = stats_now();
      cr_assert_eq(s1.used - s0.used, block_cost(q),
                   "%zu -> %zu: counted %zu, block costs %zu", from, to,
                   s1.used - s0.used, block_cost(q));
      cr_assert_eq(s1.live_blocks, s0.live_blocks + 1);
      zm_free(q);
    }
  }
  cr_assert_eq(zm_used_memory(), s0.used);
}

/* Copies len bytes into a buffer of exactly len bytes from the C library,
 * so that a sanitizer or valgrind sees any read past its end. */
static char *exact_copy(const char *bytes, size_t len) {
  char *b = malloc(len ? len : 1);
  cr_assert_not_null(b);
  memcpy(b, bytes, len);
  return b;
}

Test(alloc, strdup_copies) {
  char long_str[1001];
  memset(long_str, 'z', 1000);
  long_str[1000] = '\0';
  const char *cases[] = {"", "a", "zmem", "with\ttabs\nand newlines",
                         long_str};
  zm_stats s0 = stats_now();
  for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
    size_t len = strlen(cases[i]);
    char *src = exact_copy(cases[i], len + 1);
    char *d = zm_strdup(src);
    cr_assert_not_null(d);
    cr_assert_neq(d, src);
    cr_assert_str_eq(d, cases[i]);
    cr_assert_geq(zm_usable_size(d), len + 1);
    cr_assert(aligned_to(d, MAXALIGN));
    cr_assert_eq(zm_used_memory() - s0.used, block_cost(d));
    free(src);
    zm_free(d);
  }
  cr_assert_eq(zm_used_memory(), s0.used);
}

Test(alloc, strndup_cases) {
  const struct {
    const char *bytes; /* the source buffer */
    size_t buflen;     /* its exact length (terminated or not) */
    size_t n;
    const char *expect;
  } cases[] = {
      {"abc", 3, 3, "abc"},           /* unterminated, n == buffer */
      {"abcdef", 6, 3, "abc"},        /* unterminated, n < buffer */
      {"abcdef", 7, 3, "abc"},        /* n smaller than strlen */
      {"abcdef", 7, 6, "abcdef"},     /* n == strlen */
      {"abc", 4, 10, "abc"},          /* terminated, shorter than n */
      {"abc", 4, SIZE_MAX, "abc"},    /* n huge */
      {"abc", 4, 0, ""},              /* n == 0 */
      {"abc", 3, 0, ""},              /* n == 0, unterminated */
      {"", 1, 5, ""},                 /* empty string */
      {"", 0, 0, ""},                 /* empty buffer */
      {"a\0bc", 4, 4, "a"},           /* stops at the first NUL */
  };
  zm_stats s0 = stats_now();
  for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
    char *src = exact_copy(cases[i].bytes, cases[i].buflen);
    char *d = zm_strndup(src, opaque(cases[i].n));
    cr_assert_not_null(d, "case %zu", i);
    size_t len = strlen(cases[i].expect);
    cr_assert_eq(memcmp(d, cases[i].expect, len + 1), 0,
                 "case %zu: got \"%s\", want \"%s\"", i, d, cases[i].expect);
    cr_assert_geq(zm_usable_size(d), len + 1);
    cr_assert(aligned_to(d, MAXALIGN));
    free(src);
    zm_free(d);
  }
  zm_stats s1 = stats_now();
  cr_assert_eq(s1.used, s0.used);
  cr_assert_eq(s1.live_blocks, s0.live_blocks);
  cr_assert_eq(s1.malloc_calls - s0.malloc_calls, ARRAY_LEN(cases));
}

Test(alloc, memdup_copies) {
  const size_t sizes[] = {0, 1, 15, 16, 17, 1000, 1 << 20};
  zm_stats s0 = stats_now();
  for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
    size_t n = sizes[i];
    char *src = malloc(n ? n : 1);
    cr_assert_not_null(src);
    fill_pattern(src, n, (unsigned)n);
    void *a = zm_memdup(src, opaque(n));
    void *b = zm_memdup(src, opaque(n));
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    cr_assert_neq(a, b, "memdup(%zu) gave the same pointer twice", n);
    cr_assert(check_pattern(a, n, (unsigned)n));
    cr_assert(check_pattern(b, n, (unsigned)n));
    cr_assert_geq(zm_usable_size(a), n);
    cr_assert_eq(zm_used_memory() - s0.used, block_cost(a) + block_cost(b));
    free(src);
    zm_free(a);
    zm_free(b);
  }
  cr_assert_eq(zm_used_memory(), s0.used);
}

Test(alloc, usable_size_covers_the_request) {
  cr_assert_eq(zm_usable_size(NULL), 0);
  const size_t sizes[] = {0, 1, 7, 8, 9, 24, 100, 1000, 4095, 65537, 1 << 20};
  for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
    size_t n = sizes[i];
    void *blocks[] = {zm_malloc(opaque(n)), zm_calloc(opaque(n), 1),
                      zm_aligned_alloc(256, opaque(n)),
                      zm_realloc(zm_malloc(opaque(n / 2 + 1)), opaque(n + 1))};
    for (size_t b = 0; b < ARRAY_LEN(blocks); b++) {
      cr_assert_not_null(blocks[b]);
      size_t u = zm_usable_size(blocks[b]);
      cr_assert_geq(u, n, "size %zu, block %zu: usable %zu", n, b, u);
      memset(blocks[b], 0x42, u); /* all of it is usable */
      cr_assert_eq(zm_usable_size(blocks[b]), u, "usable size changed");
    }
    for (size_t b = 0; b < ARRAY_LEN(blocks); b++)
      zm_free(blocks[b]);
  }
}

/* ----------------------------------------------------------- sized free */

typedef struct sized_case {
  const char *name;
  void *(*make)(size_t *requested);
} sized_case;

static void *s_malloc(size_t *r) { return zm_malloc(*r = opaque(1000)); }
static void *s_malloc0(size_t *r) { return zm_malloc(*r = opaque(0)); }
static void *s_malloc_big(size_t *r) { return zm_malloc(*r = opaque(3 << 20)); }
static void *s_calloc(size_t *r) {
  *r = 13 * 17;
  return zm_calloc(opaque(13), 17);
}
static void *s_realloc_grow(size_t *r) {
  void *p = zm_malloc(10);
  cr_assert_not_null(p);
  return zm_realloc(p, *r = opaque(5000));
}
static void *s_realloc_shrink(size_t *r) {
  void *p = zm_malloc(opaque(100000));
  cr_assert_not_null(p);
  return zm_realloc(p, *r = opaque(90000));
}
static void *s_realloc_shrink_small(size_t *r) {
  void *p = zm_malloc(opaque(64));
  cr_assert_not_null(p);
  return zm_realloc(p, *r = opaque(40));
}
static void *s_reallocarray(size_t *r) {
  void *p = zm_malloc(opaque(10));
  cr_assert_not_null(p);
  *r = 300 * 3;
  return zm_reallocarray(p, opaque(300), 3);
}
static void *s_strdup(size_t *r) {
  *r = sizeof "sized free";
  return zm_strdup("sized free");
}
static void *s_memdup(size_t *r) {
  static const char src[77];
  return zm_memdup(src, *r = opaque(sizeof src));
}
static void *s_try_malloc(size_t *r) {
  return zm_try_malloc(*r = opaque(123456));
}

static const sized_case sized_cases[] = {
    {"malloc", s_malloc},
    {"malloc(0)", s_malloc0},
    {"malloc(3 MiB)", s_malloc_big},
    {"calloc", s_calloc},
    {"realloc grown", s_realloc_grow},
    {"realloc shrunk", s_realloc_shrink},
    {"realloc shrunk a little", s_realloc_shrink_small},
    {"reallocarray", s_reallocarray},
    {"strdup", s_strdup},
    {"memdup", s_memdup},
    {"try_malloc", s_try_malloc},
};

Test(alloc, free_sized_is_exact) {
  for (size_t i = 0; i < ARRAY_LEN(sized_cases); i++) {
    zm_stats s0 = stats_now();
    size_t requested = 0;
    void *p = sized_cases[i].make(&requested);
    cr_assert_not_null(p, "%s", sized_cases[i].name);
    memset(p, 1, requested);
    zm_free_sized(p, requested);
    zm_stats s1 = stats_now();
    cr_assert_eq(s1.used, s0.used, "%s: used %zu, was %zu",
                 sized_cases[i].name, s1.used, s0.used);
    cr_assert_eq(s1.live_blocks, s0.live_blocks, "%s", sized_cases[i].name);
    cr_assert_eq(s1.free_calls, s0.free_calls + 1, "%s", sized_cases[i].name);
  }
}
