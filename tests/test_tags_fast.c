/* The header layout's fast path with tags on (and off): each allocation and
 * free counts into the thread's window for the total and into the window of
 * the thread's set for the block's root tag. Exact figures per tag through
 * many windows, the fallback to the general count (nested tags, a thread's
 * first count, windows left), both sides of the path's condition (a limit
 * or a tag limit sends every call to the general path), cross-thread frees
 * under another current tag, thread exits, resets of the peak, and the
 * peak's bound with threads. Every figure is checked against the sizes the
 * blocks really have (zm_usable_size plus the header). */
#include <criterion/criterion.h>
#include <zmem.h>

#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

static zm_tag_info info(zm_tag t) {
  zm_tag_info ti = {.size = sizeof ti};
  cr_assert_eq(zm_tag_stats(t, &ti), 0);
  return ti;
}

/* What the backend holds for a header block with no alignment offset. */
static size_t held(const void *p) { return zm_usable_size(p) + ZM_HEADER_SIZE; }

static size_t roots_sum(void) {
  size_t sum = 0;
  for (zm_tag t = 0; t < zm_tag_count(); t++)
    if (info(t).parent == ZM_TAG_INVALID)
      sum += info(t).used;
  return sum;
}

/* A tag's figures as the test expects them. */
typedef struct expect {
  size_t used, blocks, peak;
  uint64_t calls;
} expect;

static void check(zm_tag t, const expect *e, const char *what) {
  zm_tag_info ti = info(t);
  cr_assert_eq(ti.used, e->used, "%s: tag %u used %zu, expected %zu", what, t,
               ti.used, e->used);
  cr_assert_eq(ti.live_blocks, e->blocks, "%s: tag %u blocks", what, t);
  cr_assert_eq(ti.calls, e->calls, "%s: tag %u calls %llu, expected %llu",
               what, t, (unsigned long long)ti.calls,
               (unsigned long long)e->calls);
  cr_assert_eq(ti.peak, e->peak, "%s: tag %u peak %zu, expected %zu", what, t,
               ti.peak, e->peak);
}

static void add(expect *e, size_t bytes) {
  e->used += bytes;
  e->blocks++;
  e->calls++;
  if (e->used > e->peak)
    e->peak = e->used;
}

static void sub(expect *e, size_t bytes) {
  e->used -= bytes;
  e->blocks--;
  e->calls++;
}

/* One block's allocation or free (op): its root tag, the total and, for a
 * block of the nested tag, that tag (child; NULL otherwise). */
static void apply(void (*op)(expect *, size_t), expect *root, expect *total,
                  expect *child, size_t bytes) {
  op(root, bytes);
  op(total, bytes);
  if (child)
    op(child, bytes);
}

/* One thread, one root tag and a child of it: rises and falls through many
 * granules (ZM_PEAK_GRANULE), so that every window is left and opened again
 * many times. The root's own blocks take the fast count; the child's fall
 * back to the general count of its chain, into the same root set. With one
 * thread every figure, the peaks included, is exact. */
#define WAVE 3000
static void *wave_blocks[WAVE];

static void wave(zm_tag root, zm_tag child, const char *what) {
  expect r = {0}, c = {0}, total = {0};
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < WAVE; i++) {
      if (wave_blocks[i])
        continue; /* kept from the round before */
      size_t n = 1 + (size_t)(i * 7919 + round * 131) % 2500;
      bool nested = i % 5 == 0;
      void *p = zm_malloc_tag(nested ? child : root, n);
      cr_assert_not_null(p);
      cr_assert_eq(zm_tag_of(p), nested ? child : root);
      wave_blocks[i] = p;
      size_t b = held(p);
      apply(add, &r, &total, nested ? &c : NULL, b);
    }
    check(root, &r, what);
    check(child, &c, what);
    cr_assert_eq(zm_used_memory(), total.used, "%s", what);
    cr_assert_eq(zm_peak_memory(), total.peak, "%s", what);
    /* free all but every tenth, in another order than allocated */
    for (int i = WAVE; i-- > 0;) {
      if (i % 10 == 3)
        continue;
      size_t b = held(wave_blocks[i]);
      bool nested = i % 5 == 0;
      zm_free(wave_blocks[i]);
      wave_blocks[i] = NULL;
      apply(sub, &r, &total, nested ? &c : NULL, b);
    }
    check(root, &r, what);
    check(child, &c, what);
    cr_assert_eq(zm_used_memory(), total.used, "%s", what);
    cr_assert_eq(roots_sum(), zm_used_memory(), "%s", what);
  }
  for (int i = 0; i < WAVE; i++)
    if (wave_blocks[i]) {
      size_t b = held(wave_blocks[i]);
      bool nested = i % 5 == 0;
      zm_free(wave_blocks[i]);
      wave_blocks[i] = NULL;
      sub(&r, b);
      if (nested)
        sub(&c, b);
    }
  check(root, &r, what);
  check(child, &c, what);
  cr_assert_eq(r.used, 0);
  cr_assert_eq(zm_used_memory(), 0, "%s", what);
}

/* The fast path: tags on, nothing else. */
Test(tags_fast, root_and_nested_exact_through_many_windows) {
  zm_tag db = zm_tag_new("db");
  zm_tag idx = zm_tag_new_child(db, "db.index");
  wave(db, idx, "fast");
  cr_assert_eq(info(ZM_TAG_DEFAULT).used, 0);
}

/* The other side of the condition: any limit sends every call through the
 * general path, with the same figures. */
Test(tags_fast, same_figures_under_a_tag_limit) {
  zm_tag db = zm_tag_new("db");
  zm_tag idx = zm_tag_new_child(db, "db.index");
  cr_assert_eq(zm_tag_set_limit(idx, (size_t)1 << 40), 0);
  wave(db, idx, "tag limit");
}

Test(tags_fast, same_figures_under_a_hard_limit) {
  zm_tag db = zm_tag_new("db");
  zm_tag idx = zm_tag_new_child(db, "db.index");
  cr_assert_eq(zm_set_limit((size_t)1 << 40), 0);
  wave(db, idx, "hard limit");
}

/* A limit set and removed again while blocks are live: the calls move from
 * the fast path to the general one and back, on the same windows. */
Test(tags_fast, limit_set_and_removed_midway) {
  zm_tag db = zm_tag_new("db");
  expect e = {0};
  void *p[200];
  for (int i = 0; i < 200; i++) {
    if (i == 50)
      cr_assert_eq(zm_set_soft_limit((size_t)1 << 40, NULL, NULL), 0);
    if (i == 120)
      cr_assert_eq(zm_set_soft_limit(0, NULL, NULL), 0);
    p[i] = zm_malloc_tag(db, 1000 + (size_t)i * 10);
    add(&e, held(p[i]));
  }
  check(db, &e, "grown");
  for (int i = 0; i < 200; i++) {
    if (i == 80)
      cr_assert_eq(zm_set_soft_limit((size_t)1 << 40, NULL, NULL), 0);
    size_t b = held(p[i]);
    zm_free(p[i]);
    sub(&e, b);
  }
  check(db, &e, "freed");
  cr_assert_eq(zm_used_memory(), 0);
}

/* Every entry point that reaches the header paths: the current tag
 * (zm_malloc), calloc, the try variants, strdup, small and large
 * alignments (an over-aligned block has an offset to its backend block:
 * its free falls back to the general path), realloc (general) and
 * realloc(NULL). */
Test(tags_fast, every_entry_point_counts_into_its_tag) {
  zm_tag a = zm_tag_new("a"), b = zm_tag_new("b");
  expect ea = {0}, eb = {0};
  zm_tag_set_current(a);
  void *p[9];
  p[0] = zm_malloc(100);
  p[1] = zm_calloc(10, 30);
  p[2] = zm_try_malloc(5000);
  p[3] = zm_try_calloc(3, 3);
  p[4] = zm_strdup("fast path");
  p[5] = zm_aligned_alloc(16, 48);
  p[6] = zm_aligned_alloc(4096, 64);
  p[7] = zm_realloc(NULL, 70);
  p[8] = zm_try_malloc_tag(b, 321);
  for (int i = 0; i < 9; i++) {
    cr_assert_not_null(p[i], "block %d", i);
    size_t bytes = i == 6 ? 0 : held(p[i]);
    if (i == 8) {
      cr_assert_eq(zm_tag_of(p[i]), b);
      add(&eb, bytes);
    } else {
      cr_assert_eq(zm_tag_of(p[i]), a, "block %d", i);
      if (i != 6)
        add(&ea, bytes);
    }
  }
  for (int i = 0; i < 300; i++)
    cr_assert_eq(((char *)p[1])[i], 0);
  cr_assert_eq(((uintptr_t)p[6]) % 4096, 0);
  /* the over-aligned block's bytes: what its tag gained */
  size_t aligned = info(a).used - ea.used;
  cr_assert_geq(aligned, zm_usable_size(p[6]) + ZM_HEADER_SIZE);
  ea.used += aligned;
  ea.peak = ea.used;
  ea.blocks++;
  ea.calls++;
  check(a, &ea, "allocated");
  check(b, &eb, "allocated");
  p[0] = zm_realloc(p[0], 20000);
  ea.calls++;
  cr_assert_eq(zm_tag_of(p[0]), a);
  cr_assert_eq(info(a).used, zm_used_memory() - eb.used);
  for (int i = 0; i < 9; i++)
    zm_free(p[i]);
  cr_assert_eq(info(a).used, 0);
  cr_assert_eq(info(a).live_blocks, 0);
  cr_assert_eq(info(a).calls, ea.calls + 8);
  cr_assert_eq(info(b).used, 0);
  cr_assert_eq(info(b).calls, 2);
  cr_assert_eq(zm_used_memory(), 0);
}

/* An unknown tag, ZM_TAG_INVALID included, counts as the default tag, not as
 * the current one, in the try variants too. */
Test(tags_fast, try_variants_with_an_unknown_tag_use_the_default) {
  zm_tag a = zm_tag_new("a");
  zm_tag_set_current(a);
  void *p = zm_try_malloc_tag(ZM_TAG_INVALID, 10);
  void *q = zm_try_calloc_tag(ZM_TAG_INVALID, 2, 10);
  void *r = zm_try_malloc_tag(999, 10);
  cr_assert(p && q && r);
  cr_assert_eq(zm_tag_of(p), ZM_TAG_DEFAULT);
  cr_assert_eq(zm_tag_of(q), ZM_TAG_DEFAULT);
  cr_assert_eq(zm_tag_of(r), ZM_TAG_DEFAULT);
  cr_assert_eq(info(a).used, 0);
  cr_assert_eq(info(ZM_TAG_DEFAULT).used, held(p) + held(q) + held(r));
  zm_free(p);
  zm_free(q);
  zm_free(r);
  cr_assert_eq(zm_used_memory(), 0);
}

/* With one thread the peak is exact through resets: after a reset it
 * restarts from the current figure and follows each new high. */
Test(tags_fast, peak_resets_and_stays_exact) {
  zm_tag t = zm_tag_new("t");
  void *p[100];
  size_t used = 0;
  for (int i = 0; i < 100; i++) {
    p[i] = zm_malloc_tag(t, 3000);
    used += held(p[i]);
  }
  size_t top = used;
  for (int i = 0; i < 60; i++) {
    used -= held(p[i]);
    zm_free(p[i]);
  }
  cr_assert_eq(info(t).peak, top);
  zm_reset_peak();
  cr_assert_eq(info(t).peak, used);
  for (int i = 0; i < 30; i++) {
    p[i] = zm_malloc_tag(t, 100);
    used += held(p[i]);
  }
  cr_assert_eq(info(t).peak, used);
  cr_assert_eq(zm_peak_memory(), used);
  for (int i = 0; i < 100; i++)
    if (i < 30 || i >= 60) /* 30..59 were freed */
      zm_free(p[i]);
  cr_assert_eq(info(t).used, 0);
}

/* The header layout without tags takes the same fast path, counting the
 * total only; tags turned on afterwards adopt its blocks into tag 0, which
 * the tagged fast path then counts down as they are freed. */
Test(tags_fast, header_layout_then_tags_on) {
  cr_assert_eq(zm_set_layout(ZM_LAYOUT_HEADER), 0);
  void *early[50];
  size_t used = 0;
  for (int i = 0; i < 50; i++) {
    early[i] = zm_malloc(100 + (size_t)i * 50);
    used += held(early[i]);
  }
  cr_assert_eq(zm_used_memory(), used);
  cr_assert_eq(zm_tags_enable(), 0);
  cr_assert_eq(info(ZM_TAG_DEFAULT).used, used);
  zm_tag t = zm_tag_new("late");
  void *q = zm_malloc_tag(t, 500);
  cr_assert_eq(info(t).used, held(q));
  for (int i = 0; i < 50; i++)
    zm_free(early[i]);
  cr_assert_eq(info(ZM_TAG_DEFAULT).used, 0);
  cr_assert_eq(info(ZM_TAG_DEFAULT).live_blocks, 0);
  zm_free(q);
  cr_assert_eq(info(t).used, 0);
  cr_assert_eq(zm_used_memory(), 0);
}

/* ------------------------------------------------------------- threads */

#define HANDED 2000
static void *handed[HANDED];
static size_t handed_bytes;
static zm_tag tag_a, tag_b;
static pthread_barrier_t barrier;

/* Allocates HANDED blocks in tag_a (its current tag), lets the consumer
 * free them, then exits. */
static void *producer(void *arg) {
  (void)arg;
  zm_tag_set_current(tag_a);
  size_t sum = 0;
  for (int i = 0; i < HANDED; i++) {
    handed[i] = zm_malloc(16 + (size_t)(i * 31) % 1500);
    sum += held(handed[i]);
  }
  handed_bytes = sum;
  pthread_barrier_wait(&barrier); /* blocks handed over */
  pthread_barrier_wait(&barrier); /* consumer done, producer still alive */
  return NULL;
}

/* Frees the producer's blocks with another current tag, and allocates and
 * frees blocks of its own in that tag meanwhile. */
static void *consumer(void *arg) {
  (void)arg;
  zm_tag_set_current(tag_b);
  pthread_barrier_wait(&barrier);
  for (int i = 0; i < HANDED; i++) {
    void *own = zm_malloc(64);
    zm_free(handed[i]);
    zm_free(own);
  }
  return NULL;
}

Test(tags_fast, cross_thread_frees_under_another_current_tag) {
  tag_a = zm_tag_new("a");
  tag_b = zm_tag_new("b");
  pthread_barrier_init(&barrier, NULL, 2);
  pthread_t p, c;
  pthread_create(&p, NULL, producer, NULL);
  pthread_create(&c, NULL, consumer, NULL);
  pthread_join(c, NULL);
  /* the producer is alive: its set for a holds the blocks, the consumer's
   * (folded at its exit) gave them back */
  zm_tag_info a = info(tag_a);
  cr_assert_eq(a.used, 0);
  cr_assert_eq(a.live_blocks, 0);
  cr_assert_eq(a.calls, 2 * HANDED);
  cr_assert_geq(a.peak, handed_bytes);
  cr_assert_eq(info(tag_b).used, 0);
  cr_assert_eq(info(tag_b).calls, 2 * HANDED);
  pthread_barrier_wait(&barrier);
  pthread_join(p, NULL);
  a = info(tag_a);
  cr_assert_eq(a.used, 0);
  cr_assert_eq(a.calls, 2 * HANDED);
  cr_assert_eq(a.peak, handed_bytes); /* exact: one thread allocated */
  cr_assert_eq(zm_used_memory(), 0);
  cr_assert_eq(roots_sum(), 0);
  pthread_barrier_destroy(&barrier);
}

/* Threads that exit with live blocks, root and nested: their sets fold
 * into the shared totals; the main thread frees the blocks (its own sets
 * go below zero) and every figure returns to zero. */
#define EXITERS 6
#define KEPT 500
static void *kept[EXITERS][KEPT];
static size_t kept_bytes[EXITERS], kept_child_bytes[EXITERS];
static zm_tag exit_root, exit_child;

static void *exiter(void *arg) {
  int id = (int)(intptr_t)arg;
  for (int i = 0; i < KEPT; i++) {
    bool nested = (i + id) % 3 == 0;
    void *p = zm_malloc_tag(nested ? exit_child : exit_root,
                            8 + (size_t)(i * 97 + id) % 4000);
    /* and some that come and go */
    zm_free(zm_malloc_tag(exit_root, 200));
    kept[id][i] = p;
    kept_bytes[id] += held(p);
    if (nested)
      kept_child_bytes[id] += held(p);
  }
  return NULL;
}

Test(tags_fast, thread_exits_with_live_blocks) {
  exit_root = zm_tag_new("root");
  exit_child = zm_tag_new_child(exit_root, "root.child");
  pthread_t th[EXITERS];
  for (int i = 0; i < EXITERS; i++)
    pthread_create(&th[i], NULL, exiter, (void *)(intptr_t)i);
  size_t total = 0, child = 0;
  for (int i = 0; i < EXITERS; i++) {
    pthread_join(th[i], NULL);
    total += kept_bytes[i];
    child += kept_child_bytes[i];
  }
  zm_tag_info r = info(exit_root), c = info(exit_child);
  cr_assert_eq(r.used, total);
  cr_assert_eq(c.used, child);
  cr_assert_eq(r.live_blocks, EXITERS * KEPT);
  cr_assert_eq(r.calls, EXITERS * KEPT * 3);
  cr_assert_eq(zm_used_memory(), total);
  for (int i = 0; i < EXITERS; i++)
    for (int j = 0; j < KEPT; j++)
      zm_free(kept[i][j]);
  r = info(exit_root);
  c = info(exit_child);
  cr_assert_eq(r.used, 0);
  cr_assert_eq(c.used, 0);
  cr_assert_eq(r.live_blocks, 0);
  cr_assert_eq(r.calls, EXITERS * KEPT * 4);
  cr_assert_eq(zm_used_memory(), 0);
}

/* The peak's bound with threads: each of THREADS threads holds its blocks
 * at the same moment (a barrier), so the true peak is their sum; the
 * reported one is within ZM_PEAK_GRANULE per live thread of it. */
#define THREADS 4
#define HOLD 400
static zm_tag peak_tag;
static size_t peak_held[THREADS];
static pthread_barrier_t peak_barrier;

static void *holder(void *arg) {
  int id = (int)(intptr_t)arg;
  void *p[HOLD];
  for (int i = 0; i < HOLD; i++) {
    p[i] = zm_malloc_tag(peak_tag, 1000 + (size_t)(i * 13 + id) % 1000);
    peak_held[id] += held(p[i]);
  }
  pthread_barrier_wait(&peak_barrier);
  for (int i = 0; i < HOLD; i++)
    zm_free(p[i]);
  pthread_barrier_wait(&peak_barrier); /* all freed, all alive */
  return NULL;
}

Test(tags_fast, peak_within_its_bound_with_threads) {
  peak_tag = zm_tag_new("peak");
  pthread_barrier_init(&peak_barrier, NULL, THREADS + 1);
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++)
    pthread_create(&th[i], NULL, holder, (void *)(intptr_t)i);
  pthread_barrier_wait(&peak_barrier);
  size_t sum = 0;
  for (int i = 0; i < THREADS; i++)
    sum += peak_held[i];
  pthread_barrier_wait(&peak_barrier);
  size_t bound = (THREADS + 1) * ZM_PEAK_GRANULE;
  zm_tag_info ti = info(peak_tag);
  cr_assert_eq(ti.used, 0);
  cr_assert_geq(ti.peak + bound, sum, "peak %zu, true %zu", ti.peak, sum);
  cr_assert_leq(ti.peak, sum + bound, "peak %zu, true %zu", ti.peak, sum);
  for (int i = 0; i < THREADS; i++)
    pthread_join(th[i], NULL);
  cr_assert_eq(info(peak_tag).used, 0);
  cr_assert_eq(zm_used_memory(), 0);
  pthread_barrier_destroy(&peak_barrier);
}

/* A thread past its exit hook (its slot folded, no sets any more) counts
 * its tagged calls straight into the shared totals: here from a key
 * destructor that runs after zmem's in the same round (zmem's key is
 * older, so it comes first). Some blocks outlive the thread. */
#define AFTER_EXIT 8
static pthread_key_t after_key;
static zm_tag after_tag;
static void *after_blocks[AFTER_EXIT];
static size_t after_bytes;

static void after_destructor(void *v) {
  (void)v;
  for (int i = 0; i < AFTER_EXIT; i++) {
    zm_free(zm_malloc_tag(after_tag, 5000));
    after_blocks[i] = zm_malloc_tag(after_tag, 100 + (size_t)i);
    after_bytes += held(after_blocks[i]);
  }
}

static void *after_thread(void *arg) {
  (void)arg;
  zm_free(zm_malloc_tag(after_tag, 10)); /* a slot and sets of its own */
  pthread_setspecific(after_key, (void *)1);
  return NULL;
}

Test(tags_fast, calls_after_the_exit_hook_count_exactly) {
  after_tag = zm_tag_new("after");
  zm_free(zm_malloc(1)); /* zmem's exit key exists before after_key */
  cr_assert_eq(pthread_key_create(&after_key, after_destructor), 0);
  pthread_t th;
  pthread_create(&th, NULL, after_thread, NULL);
  pthread_join(th, NULL);
  zm_tag_info ti = info(after_tag);
  cr_assert_eq(ti.used, after_bytes);
  cr_assert_eq(ti.live_blocks, AFTER_EXIT);
  cr_assert_eq(ti.calls, 2 + 3 * AFTER_EXIT);
  cr_assert_eq(zm_used_memory(), after_bytes);
  for (int i = 0; i < AFTER_EXIT; i++)
    zm_free(after_blocks[i]);
  cr_assert_eq(info(after_tag).used, 0);
  cr_assert_eq(info(after_tag).live_blocks, 0);
  cr_assert_eq(zm_used_memory(), 0);
}
