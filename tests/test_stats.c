/* Accounting: used memory, live blocks, calls per function, failures, moves,
 * the peak, and zm_get_stats itself. Single-threaded: here every figure is
 * exact (test_threads.c covers the threaded bounds). */
#include "harness.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define HUGE1 ((size_t)PTRDIFF_MAX + 1)

/* ------------------------------------------------------- calls counted */

typedef struct deltas {
  unsigned malloc, calloc, realloc, aligned, free, failures;
  int blocks;
} deltas;

typedef struct call_case {
  const char *name;
  void *(*setup)(void); /* the block the operation works on, or NULL */
  /* The operation measured. Returns whatever is still live afterwards (the
   * old block when it failed to resize it, the new block, or NULL). */
  void *(*op)(void *old);
  deltas want;
} call_case;

static void *old10(void) { return zm_malloc(opaque(10)); }
static void *old100k(void) { return zm_malloc(opaque(100000)); }

static void *op_malloc(void *o) {
  (void)o;
  return zm_malloc(opaque(10));
}
static void *op_malloc0(void *o) {
  (void)o;
  return zm_malloc(opaque(0));
}
static void *op_try_malloc(void *o) {
  (void)o;
  return zm_try_malloc(opaque(100));
}
static void *op_strdup(void *o) {
  (void)o;
  return zm_strdup("counted");
}
static void *op_strndup(void *o) {
  (void)o;
  return zm_strndup("counted", 3);
}
static void *op_memdup(void *o) {
  (void)o;
  return zm_memdup("abc", 3);
}
static void *op_calloc(void *o) {
  (void)o;
  return zm_calloc(opaque(3), 4);
}
static void *op_try_calloc(void *o) {
  (void)o;
  return zm_try_calloc(opaque(3), 4);
}
static void *op_realloc_null(void *o) {
  (void)o;
  return zm_realloc(NULL, opaque(10));
}
static void *op_try_realloc_null(void *o) {
  (void)o;
  return zm_try_realloc(NULL, opaque(10));
}
static void *op_reallocarray_null(void *o) {
  (void)o;
  return zm_reallocarray(NULL, opaque(3), 3);
}
static void *op_realloc_grow(void *o) { return zm_realloc(o, opaque(1000)); }
static void *op_realloc_shrink(void *o) { return zm_realloc(o, opaque(5)); }
static void *op_try_realloc(void *o) { return zm_try_realloc(o, opaque(1000)); }
static void *op_reallocarray(void *o) {
  return zm_reallocarray(o, opaque(10), 10);
}
static void *op_aligned64(void *o) {
  (void)o;
  return zm_aligned_alloc(64, opaque(10));
}
static void *op_aligned8(void *o) {
  (void)o;
  return zm_aligned_alloc(8, opaque(10));
}
static void *op_aligned4096_0(void *o) {
  (void)o;
  return zm_aligned_alloc(4096, opaque(0));
}
static void *op_free(void *o) {
  zm_free(o);
  return NULL;
}
static void *op_free_sized(void *o) {
  zm_free_sized(o, 10);
  return NULL;
}
static void *op_free_null(void *o) {
  (void)o;
  zm_free(opaque_ptr(NULL));
  return NULL;
}
static void *op_realloc0(void *o) { return zm_realloc(o, opaque(0)); }
static void *op_try_realloc0(void *o) { return zm_try_realloc(o, opaque(0)); }
static void *op_fail_try_malloc(void *o) {
  (void)o;
  return zm_try_malloc(opaque(SIZE_MAX));
}
static void *op_fail_malloc(void *o) {
  (void)o;
  return zm_malloc(opaque(HUGE1));
}
static void *op_fail_malloc_backend(void *o) {
  (void)o;
  return zm_malloc(opaque((size_t)1 << 60));
}
static void *op_fail_calloc(void *o) {
  (void)o;
  return zm_calloc(opaque(SIZE_MAX), 2);
}
static void *op_fail_try_calloc(void *o) {
  (void)o;
  return zm_try_calloc(1, opaque(SIZE_MAX));
}
/* A failed resize leaves the old block live: return it. */
static void *op_fail_realloc(void *o) {
  void *q = zm_realloc(o, opaque(SIZE_MAX));
  cr_assert_null(q);
  return o;
}
static void *op_fail_try_realloc(void *o) {
  void *q = zm_try_realloc(o, opaque(HUGE1));
  cr_assert_null(q);
  return o;
}
static void *op_fail_reallocarray(void *o) {
  void *q = zm_reallocarray(o, opaque(SIZE_MAX), 2);
  cr_assert_null(q);
  return o;
}
static void *op_fail_aligned_einval(void *o) {
  (void)o;
  return zm_aligned_alloc(opaque(3), 10);
}
static void *op_fail_aligned_enomem(void *o) {
  (void)o;
  return zm_aligned_alloc(64, opaque(SIZE_MAX));
}

static const call_case call_cases[] = {
    {"zm_malloc", NULL, op_malloc, {.malloc = 1, .blocks = 1}},
    {"zm_malloc(0)", NULL, op_malloc0, {.malloc = 1, .blocks = 1}},
    {"zm_try_malloc", NULL, op_try_malloc, {.malloc = 1, .blocks = 1}},
    {"zm_strdup", NULL, op_strdup, {.malloc = 1, .blocks = 1}},
    {"zm_strndup", NULL, op_strndup, {.malloc = 1, .blocks = 1}},
    {"zm_memdup", NULL, op_memdup, {.malloc = 1, .blocks = 1}},
    {"zm_calloc", NULL, op_calloc, {.calloc = 1, .blocks = 1}},
    {"zm_try_calloc", NULL, op_try_calloc, {.calloc = 1, .blocks = 1}},
    {"zm_realloc(NULL)", NULL, op_realloc_null, {.realloc = 1, .blocks = 1}},
    {"zm_try_realloc(NULL)", NULL, op_try_realloc_null,
     {.realloc = 1, .blocks = 1}},
    {"zm_reallocarray(NULL)", NULL, op_reallocarray_null,
     {.realloc = 1, .blocks = 1}},
    {"zm_realloc grow", old10, op_realloc_grow, {.realloc = 1}},
    {"zm_realloc shrink", old100k, op_realloc_shrink, {.realloc = 1}},
    {"zm_try_realloc", old10, op_try_realloc, {.realloc = 1}},
    {"zm_reallocarray", old10, op_reallocarray, {.realloc = 1}},
    {"zm_aligned_alloc(64)", NULL, op_aligned64, {.aligned = 1, .blocks = 1}},
    {"zm_aligned_alloc(8)", NULL, op_aligned8, {.aligned = 1, .blocks = 1}},
    {"zm_aligned_alloc(4096, 0)", NULL, op_aligned4096_0,
     {.aligned = 1, .blocks = 1}},
    {"zm_free", old10, op_free, {.free = 1, .blocks = -1}},
    {"zm_free_sized", old10, op_free_sized, {.free = 1, .blocks = -1}},
    {"zm_free(NULL)", NULL, op_free_null, {0}},
    /* zmem.h: each call counts once, under its own function. */
    {"zm_realloc(p, 0)", old10, op_realloc0, {.realloc = 1, .blocks = -1}},
    {"zm_try_realloc(p, 0)", old100k, op_try_realloc0,
     {.realloc = 1, .blocks = -1}},
    {"failed zm_try_malloc", NULL, op_fail_try_malloc,
     {.malloc = 1, .failures = 1}},
    {"failed zm_malloc", NULL, op_fail_malloc, {.malloc = 1, .failures = 1}},
    {"zm_malloc failed by the backend", NULL, op_fail_malloc_backend,
     {.malloc = 1, .failures = 1}},
    {"failed zm_calloc", NULL, op_fail_calloc, {.calloc = 1, .failures = 1}},
    {"failed zm_try_calloc", NULL, op_fail_try_calloc,
     {.calloc = 1, .failures = 1}},
    {"failed zm_realloc", old10, op_fail_realloc,
     {.realloc = 1, .failures = 1}},
    {"failed zm_try_realloc", old10, op_fail_try_realloc,
     {.realloc = 1, .failures = 1}},
    {"failed zm_reallocarray", old10, op_fail_reallocarray,
     {.realloc = 1, .failures = 1}},
    {"zm_aligned_alloc EINVAL", NULL, op_fail_aligned_einval,
     {.aligned = 1, .failures = 1}},
    {"zm_aligned_alloc ENOMEM", NULL, op_fail_aligned_enomem,
     {.aligned = 1, .failures = 1}},
};

Test(stats, calls_are_counted_per_function) {
  oom_rec rec = {0};
  zm_set_oom_handler(oom_record, &rec);
  for (size_t i = 0; i < ARRAY_LEN(call_cases); i++) {
    const call_case *c = &call_cases[i];
    void *old = c->setup ? c->setup() : NULL;
    if (c->setup)
      cr_assert_not_null(old, "%s: setup", c->name);
    zm_stats a = stats_now();
    void *live = c->op(old);
    zm_stats b = stats_now();
    cr_assert_eq(b.malloc_calls - a.malloc_calls, c->want.malloc,
                 "%s: malloc_calls +%llu", c->name,
                 (unsigned long long)(b.malloc_calls - a.malloc_calls));
    cr_assert_eq(b.calloc_calls - a.calloc_calls, c->want.calloc,
                 "%s: calloc_calls +%llu", c->name,
                 (unsigned long long)(b.calloc_calls - a.calloc_calls));
    cr_assert_eq(b.realloc_calls - a.realloc_calls, c->want.realloc,
                 "%s: realloc_calls +%llu", c->name,
                 (unsigned long long)(b.realloc_calls - a.realloc_calls));
    cr_assert_eq(b.aligned_calls - a.aligned_calls, c->want.aligned,
                 "%s: aligned_calls +%llu", c->name,
                 (unsigned long long)(b.aligned_calls - a.aligned_calls));
    cr_assert_eq(b.free_calls - a.free_calls, c->want.free,
                 "%s: free_calls +%llu", c->name,
                 (unsigned long long)(b.free_calls - a.free_calls));
    cr_assert_eq(b.failures - a.failures, c->want.failures,
                 "%s: failures +%llu", c->name,
                 (unsigned long long)(b.failures - a.failures));
    cr_assert_eq((long)b.live_blocks - (long)a.live_blocks, c->want.blocks,
                 "%s: live_blocks %+ld", c->name,
                 (long)b.live_blocks - (long)a.live_blocks);
    zm_free(live);
  }
}

Test(stats, realloc_moved_counts_moves_exactly) {
  const struct {
    size_t from, to;
  } cases[] = {{16, 32},        {16, 1 << 20},  {1 << 20, 16}, {100, 100},
               {4000, 4001},    {64, 8},        {100, 200000}, {200000, 300000},
               {1 << 20, 2 << 20}, {3 << 20, 1 << 20}};
  void *spacers[ARRAY_LEN(cases)];
  unsigned moves = 0;
  zm_stats s0 = stats_now();
  for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
    void *p = zm_malloc(opaque(cases[i].from));
    cr_assert_not_null(p);
    spacers[i] = zm_malloc(16); /* makes growing in place less likely */
    cr_assert_not_null(spacers[i]);
    uintptr_t before = (uintptr_t)p;
    zm_stats a = stats_now();
    void *q = zm_realloc(p, opaque(cases[i].to));
    cr_assert_not_null(q);
    zm_stats b = stats_now();
    unsigned moved = (uintptr_t)q != before;
    moves += moved;
    cr_assert_eq(b.realloc_moved - a.realloc_moved, moved,
                 "%zu -> %zu: moved %u, counted %llu", cases[i].from,
                 cases[i].to, moved,
                 (unsigned long long)(b.realloc_moved - a.realloc_moved));
    zm_free(q);
  }
  cr_assert_gt(moves, 0, "no realloc moved: the test proves nothing");
  cr_assert_eq(stats_now().realloc_moved - s0.realloc_moved, moves);
  for (size_t i = 0; i < ARRAY_LEN(cases); i++)
    zm_free(spacers[i]);
}

/* --------------------------------------------------------- used memory */

/* Random allocations and frees: at every step used is the baseline plus
 * what each live block added when it was allocated, live_blocks matches,
 * and the peak is exactly the highest used seen (one thread). */
Test(stats, used_and_peak_follow_every_step) {
  enum { SLOTS = 64 };
  void *blocks[SLOTS] = {0};
  size_t cost[SLOTS] = {0};
  size_t live = 0;
  uint64_t rng = 42;
  zm_reset_peak();
  zm_stats s0 = stats_now();
  size_t used = s0.used, highest = s0.used;
  cr_assert_eq(s0.peak, s0.used, "zm_reset_peak did not set peak to used");
  for (unsigned step = 0; step < scaled(20000); step++) {
    size_t k = rng_next(&rng) % SLOTS;
    unsigned kind = (unsigned)(rng_next(&rng) % 8);
    size_t n = rng_next(&rng) % (kind == 0 ? (1 << 20) : 3000);
    if (blocks[k]) {
      size_t before = zm_used_memory();
      if (kind < 3) {
        void *q = zm_realloc(blocks[k], n + 1);
        cr_assert_not_null(q);
        blocks[k] = q;
        size_t after = zm_used_memory();
        cost[k] = cost[k] + after - before; /* wraps back when it shrank */
        used = after;
      } else {
        zm_free(blocks[k]);
        blocks[k] = NULL;
        live--;
        used -= cost[k];
        cr_assert_eq(zm_used_memory(), used, "step %u: free of %zu", step,
                     cost[k]);
      }
    } else {
      void *p = kind == 1   ? zm_calloc(n, 1)
                : kind == 2 ? zm_aligned_alloc((size_t)64 << (n % 8), n)
                : kind == 3 ? zm_memdup(&rng, n % sizeof rng)
                            : zm_malloc(n);
      cr_assert_not_null(p);
      blocks[k] = p;
      live++;
      size_t after = zm_used_memory();
      cost[k] = after - used;
      if (kind != 2)
        cr_assert_eq(cost[k], block_cost(p), "step %u: counted %zu for %zu",
                     step, cost[k], block_cost(p));
      used = after;
    }
    highest = used > highest ? used : highest;
    zm_stats s = stats_now();
    cr_assert_eq(s.used, used);
    cr_assert_eq(s.live_blocks, s0.live_blocks + live);
    cr_assert_geq(s.peak, s.used);
    cr_assert_eq(s.peak, highest, "step %u: peak %zu, highest used %zu", step,
                 s.peak, highest);
  }
  for (size_t k = 0; k < SLOTS; k++)
    zm_free(blocks[k]);
  zm_stats s1 = stats_now();
  cr_assert_eq(s1.used, s0.used);
  cr_assert_eq(s1.live_blocks, s0.live_blocks);
  cr_assert_eq(s1.peak, highest);
}

Test(stats, used_returns_exactly_to_baseline) {
  const size_t sizes[] = {0, 1, 17, 512, 4096, 70000, 1 << 20, 9 << 20};
  zm_stats s0 = stats_now();
  void *blocks[ARRAY_LEN(sizes) * 4];
  size_t k = 0, sum = 0;
  for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
    blocks[k] = zm_malloc(opaque(sizes[i]));
    blocks[k + 1] = zm_calloc(opaque(sizes[i]), 1);
    blocks[k + 2] = zm_realloc(zm_malloc(opaque(7)), opaque(sizes[i]) + 1);
    blocks[k + 3] = zm_memdup(sizes, opaque(sizes[i]) % sizeof sizes);
    for (size_t j = k; j < k + 4; j++) {
      cr_assert_not_null(blocks[j]);
      sum += block_cost(blocks[j]);
    }
    k += 4;
  }
  zm_stats s1 = stats_now();
  cr_assert_eq(s1.used - s0.used, sum);
  cr_assert_eq(s1.live_blocks - s0.live_blocks, k);
  for (size_t j = 0; j < k; j++)
    zm_free(blocks[j]);
  zm_stats s2 = stats_now();
  cr_assert_eq(s2.used, s0.used);
  cr_assert_eq(s2.live_blocks, s0.live_blocks);
}

/* ---------------------------------------------------------------- peak */

Test(stats, peak_after_a_big_block_and_reset) {
  zm_reset_peak();
  size_t base = zm_used_memory();
  cr_assert_eq(zm_peak_memory(), base);
  void *p = zm_malloc(opaque(32 << 20));
  cr_assert_not_null(p);
  size_t cost = block_cost(p);
  cr_assert_geq(zm_peak_memory(), zm_used_memory());
  zm_free(p);
  cr_assert_eq(zm_used_memory(), base);
  cr_assert_eq(zm_peak_memory() - base, cost, "peak %zu above base, block %zu",
               zm_peak_memory() - base, cost);
  zm_reset_peak();
  cr_assert_eq(zm_peak_memory(), zm_used_memory());
  /* A reset with blocks live: the peak restarts from what is live. */
  void *q = zm_malloc(opaque(1 << 20));
  cr_assert_not_null(q);
  zm_reset_peak();
  size_t with_q = zm_used_memory();
  cr_assert_eq(zm_peak_memory(), with_q);
  zm_free(q);
  cr_assert_eq(zm_peak_memory(), with_q);
}

Test(stats, peak_is_exact_for_one_thread) {
  /* Sizes chosen so that some pass ZM_PEAK_GRANULE each and many stay below
   * it: both the published and the unpublished paths are taken. */
  enum { N = 200 };
  void *blocks[N];
  zm_reset_peak();
  size_t base = zm_used_memory(), sum = 0;
  for (size_t i = 0; i < N; i++) {
    size_t n = (i * 7919) % (i % 10 == 0 ? 3 * ZM_PEAK_GRANULE : 3000);
    blocks[i] = zm_malloc(opaque(n));
    cr_assert_not_null(blocks[i]);
    sum += block_cost(blocks[i]);
  }
  for (size_t i = 0; i < N; i++)
    zm_free(blocks[N - 1 - i]);
  cr_assert_eq(zm_used_memory(), base);
  cr_assert_eq(zm_peak_memory() - base, sum,
               "peak - baseline = %zu, the blocks cost %zu",
               zm_peak_memory() - base, sum);
}

/* ------------------------------------------------------- zm_get_stats */

Test(stats, get_stats_rejects_null_and_short_structs) {
  errno = 0;
  cr_assert_eq(zm_get_stats(NULL), -1);
  cr_assert_eq(errno, EINVAL);
  const size_t sizes[] = {0, 1, sizeof(size_t), offsetof(zm_stats, used),
                          sizeof(zm_stats) - 1};
  for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
    zm_stats st;
    memset(&st, 0xab, sizeof st);
    st.size = sizes[i];
    errno = 0;
    cr_assert_eq(zm_get_stats(&st), -1, "size %zu accepted", sizes[i]);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(st.size, sizes[i]);
    cr_assert(all_bytes((char *)&st + sizeof st.size,
                        sizeof st - sizeof st.size, 0xab),
              "size %zu: the struct was written", sizes[i]);
  }
}

Test(stats, get_stats_accepts_a_larger_struct) {
  struct {
    zm_stats st;
    unsigned char newer[64];
  } big;
  memset(&big, 0xcd, sizeof big);
  big.st.size = sizeof big;
  cr_assert_eq(zm_get_stats(&big.st), 0);
  cr_assert(all_bytes(big.newer, sizeof big.newer, 0xcd),
            "wrote past the fields it knows");
  cr_assert_eq(big.st.version, ZM_STATS_VERSION);
}

Test(stats, versions) {
  zm_stats st = stats_now();
  cr_assert_eq(st.version, ZM_STATS_VERSION);
  cr_assert_eq(zm_version(), ZMEM_VERSION);
  cr_assert_eq(ZMEM_VERSION, ZMEM_VERSION_MAJOR * 10000 +
                                 ZMEM_VERSION_MINOR * 100 +
                                 ZMEM_VERSION_PATCH);
}

Test(stats, layout_and_backend_reported) {
  const char *env = getenv("ZMEM_TEST_BACKEND");
  cr_assert_eq(harness_user_nosize(),
               env && strcmp(env, HARNESS_NOSIZE_NAME) == 0,
               "the harness did not apply ZMEM_TEST_BACKEND");
  zm_stats st = stats_now();
  cr_assert_eq(st.layout, harness_default_layout(), "layout %d before use",
               st.layout);
  cr_assert_not_null(st.backend);
  cr_assert_str_eq(st.backend, zm_get_backend()->name);
  cr_assert_str_eq(st.backend, harness_user_nosize() ? HARNESS_NOSIZE_NAME
                                                     : ZMEM_TEST_BUILTIN_NAME);
  void *p = zm_malloc(1);
  cr_assert_not_null(p);
  st = stats_now();
  cr_assert_eq(st.layout, harness_default_layout(), "layout %d in use",
               st.layout);
  cr_assert_eq(st.used, zm_used_memory());
  cr_assert_eq(st.peak, zm_peak_memory());
  zm_free(p);
}

Test(stats, counters_start_at_zero) {
  /* Criterion runs each test in a new process: nothing counted yet. */
  zm_stats st = stats_now();
  cr_assert_eq(st.used, 0);
  cr_assert_eq(st.peak, 0);
  cr_assert_eq(st.live_blocks, 0);
  cr_assert_eq(st.malloc_calls + st.calloc_calls + st.realloc_calls +
                   st.aligned_calls + st.free_calls + st.failures +
                   st.realloc_moved,
               0);
}
