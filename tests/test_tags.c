/* Tags: registration, per-tag figures, nesting, exactness across threads. */
#include <criterion/criterion.h>
#include <zmem.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

static size_t roots_sum(void) {
  size_t sum = 0;
  for (zm_tag t = 0; t < zm_tag_count(); t++) {
    zm_tag_info ti = {.size = sizeof ti};
    cr_assert_eq(zm_tag_stats(t, &ti), 0);
    if (ti.parent == ZM_TAG_INVALID)
      sum += ti.used;
  }
  return sum;
}

static zm_tag_info info(zm_tag t) {
  zm_tag_info ti = {.size = sizeof ti};
  cr_assert_eq(zm_tag_stats(t, &ti), 0);
  return ti;
}

Test(tags, default_tag_exists) {
  cr_assert_eq(zm_tag_count(), 1);
  zm_tag_info ti = info(ZM_TAG_DEFAULT);
  cr_assert_str_eq(ti.name, "untagged");
  cr_assert_eq(ti.parent, ZM_TAG_INVALID);
  cr_assert_eq(ti.depth, 1);
}

Test(tags, new_enables_header_layout) {
  cr_assert_eq(zm_tags_enabled(), 0);
  zm_tag t = zm_tag_new("db");
  cr_assert_eq(t, 1);
  cr_assert_eq(zm_tags_enabled(), 1);
  zm_stats st = {.size = sizeof st};
  cr_assert_eq(zm_get_stats(&st), 0);
  cr_assert_eq(st.layout, ZM_LAYOUT_HEADER);
  cr_assert_str_eq(info(t).name, "db");
}

Test(tags, refused_after_lean_layout_is_fixed) {
  if (zm_get_backend()->usable_size == NULL)
    cr_skip_test("the backend has no size query: the layout is header anyway");
  void *p = zm_malloc(1);
  errno = 0;
  cr_assert_eq(zm_tag_new("late"), ZM_TAG_INVALID);
  cr_assert_eq(errno, EBUSY);
  cr_assert_eq(zm_tags_enable(), -1);
  cr_assert_eq(errno, EBUSY);
  cr_assert(strstr(zm_last_error(), "tags need the header layout") != NULL,
            "message: '%s'", zm_last_error());
  zm_free(p);
}

struct bad_name {
  zm_tag parent;
  const char *name;
};

Test(tags, bad_arguments) {
  zm_tag deep = zm_tag_new("d1");
  for (int i = 2; i <= ZM_TAG_DEPTH_MAX; i++)
    deep = zm_tag_new_child(deep, "d");
  cr_assert_neq(deep, ZM_TAG_INVALID);
  const struct bad_name cases[] = {
      {ZM_TAG_INVALID, NULL}, {ZM_TAG_INVALID, ""}, {0, NULL},
      {12345, "x"},           {deep, "too-deep"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    errno = 0;
    zm_tag t = cases[i].parent == ZM_TAG_INVALID
                   ? zm_tag_new(cases[i].name)
                   : zm_tag_new_child(cases[i].parent, cases[i].name);
    cr_assert_eq(t, ZM_TAG_INVALID, "case %zu", i);
    cr_assert_eq(errno, EINVAL, "case %zu", i);
  }
  errno = 0;
  cr_assert_eq(zm_tag_new_child(ZM_TAG_INVALID, "x"), ZM_TAG_INVALID);
  cr_assert_eq(errno, EINVAL);
  zm_tag_info ti = {.size = 1};
  cr_assert_eq(zm_tag_stats(0, &ti), -1);
  cr_assert_eq(zm_tag_stats(0, NULL), -1);
  cr_assert_eq(zm_tag_used(9999), 0);
  cr_assert_eq(zm_tag_set_limit(9999, 10), -1);
}

Test(tags, registry_fills_up) {
  for (size_t i = zm_tag_count(); i < ZM_TAG_MAX; i++)
    cr_assert_neq(zm_tag_new("t"), ZM_TAG_INVALID);
  errno = 0;
  cr_assert_eq(zm_tag_new("one-too-many"), ZM_TAG_INVALID);
  cr_assert_eq(errno, ENOSPC);
  cr_assert_eq(zm_tag_count(), ZM_TAG_MAX);
}

Test(tags, long_names_are_cut) {
  char name[200];
  memset(name, 'n', sizeof name - 1);
  name[sizeof name - 1] = '\0';
  zm_tag t = zm_tag_new(name);
  cr_assert_eq(strlen(info(t).name), 63);
}

Test(tags, per_tag_figures_and_partition) {
  zm_tag db = zm_tag_new("db"), net = zm_tag_new("net");
  char *a = zm_malloc_tag(db, 100);
  int *b = zm_calloc_tag(net, 10, sizeof *b);
  char *c = zm_strdup_tag(db, "hello");
  void *d = zm_malloc(7);
  cr_assert_eq(zm_tag_of(a), db);
  cr_assert_eq(zm_tag_of(b), net);
  cr_assert_eq(zm_tag_of(d), ZM_TAG_DEFAULT);
  cr_assert_eq(zm_tag_of(NULL), ZM_TAG_DEFAULT);
  cr_assert_str_eq(c, "hello");
  for (int i = 0; i < 10; i++)
    cr_assert_eq(b[i], 0);
  size_t ua = zm_usable_size(a) + ZM_HEADER_SIZE;
  size_t uc = zm_usable_size(c) + ZM_HEADER_SIZE;
  cr_assert_eq(zm_tag_used(db), ua + uc);
  cr_assert_eq(info(db).live_blocks, 2);
  cr_assert_eq(info(db).calls, 2);
  cr_assert_eq(roots_sum(), zm_used_memory());
  zm_free(a);
  zm_free(b);
  zm_free(c);
  zm_free(d);
  cr_assert_eq(zm_tag_used(db), 0);
  cr_assert_eq(zm_tag_used(net), 0);
  cr_assert_eq(info(db).calls, 4);
  cr_assert_eq(info(db).peak, ua + uc);
  cr_assert_eq(roots_sum(), zm_used_memory());
}

Test(tags, unknown_tag_counts_as_default) {
  zm_tags_enable();
  void *p = zm_malloc_tag(4242, 10);
  cr_assert_eq(zm_tag_of(p), ZM_TAG_DEFAULT);
  cr_assert_eq(zm_tag_used(ZM_TAG_DEFAULT), zm_used_memory());
  zm_free(p);
}

Test(tags, current_tag_and_realloc_keeps_tag) {
  zm_tag db = zm_tag_new("db");
  cr_assert_eq(zm_tag_set_current(db), ZM_TAG_DEFAULT);
  cr_assert_eq(zm_tag_current(), db);
  errno = 0;
  cr_assert_eq(zm_tag_set_current(777), db);
  cr_assert_eq(errno, EINVAL);
  cr_assert_eq(zm_tag_current(), db);
  char *p = zm_malloc(10);
  cr_assert_eq(zm_tag_set_current(ZM_TAG_DEFAULT), db);
  p = zm_realloc(p, 100000);
  cr_assert_eq(zm_tag_of(p), db);
  cr_assert_eq(zm_tag_used(db), zm_usable_size(p) + ZM_HEADER_SIZE);
  void *q = zm_aligned_alloc(4096, 100);
  cr_assert_eq(zm_tag_of(q), ZM_TAG_DEFAULT);
  zm_free(q);
  p = zm_realloc(p, 0);
  cr_assert_null(p);
  cr_assert_eq(zm_tag_used(db), 0);
  cr_assert_eq(zm_used_memory(), 0);
}

Test(tags, nesting_includes_children) {
  zm_tag db = zm_tag_new("db");
  zm_tag idx = zm_tag_new_child(db, "index");
  zm_tag btree = zm_tag_new_child(idx, "btree");
  cr_assert_eq(info(btree).depth, 3);
  cr_assert_eq(info(btree).parent, idx);
  void *a = zm_malloc_tag(db, 10), *b = zm_malloc_tag(idx, 20),
       *c = zm_malloc_tag(btree, 30);
  size_t sa = zm_usable_size(a) + 16, sb = zm_usable_size(b) + 16,
         sc = zm_usable_size(c) + 16;
  cr_assert_eq(zm_tag_used(btree), sc);
  cr_assert_eq(zm_tag_used(idx), sb + sc);
  cr_assert_eq(zm_tag_used(db), sa + sb + sc);
  cr_assert_eq(info(db).live_blocks, 3);
  cr_assert_eq(roots_sum(), zm_used_memory());
  zm_free(c);
  cr_assert_eq(zm_tag_used(db), sa + sb);
  zm_free(a);
  zm_free(b);
  cr_assert_eq(zm_tag_used(db), 0);
  cr_assert_eq(info(db).peak, sa + sb + sc);
  zm_reset_peak();
  cr_assert_eq(info(db).peak, 0);
}

Test(tags, failures_are_counted_per_tag) {
  zm_tag db = zm_tag_new("db");
  volatile size_t huge = (size_t)1 << 62;
  zm_tag_set_current(db);
  cr_assert_null(zm_try_malloc(huge));
  cr_assert_eq(info(db).failures, 1);
  cr_assert_eq(info(ZM_TAG_DEFAULT).failures, 0);
}

static int oom_calls;
static void count_oom(size_t size, void *arg) {
  (void)size;
  (void)arg;
  oom_calls++;
}

Test(tags, try_tag_variants_fail_without_the_handler) {
  zm_tag db = zm_tag_new("db");
  zm_set_oom_handler(count_oom, NULL);
  cr_assert_eq(zm_tag_set_limit(db, 64 << 10), 0);
  errno = 0;
  cr_assert_null(zm_try_malloc_tag(db, 1 << 20));
  cr_assert_eq(errno, ENOMEM);
  errno = 0;
  volatile size_t big = SIZE_MAX / 2 + 2;
  cr_assert_null(zm_try_calloc_tag(db, 2, big)); /* count * size overflows */
  cr_assert_eq(errno, ENOMEM);
  cr_assert_eq(oom_calls, 0);
  cr_assert_eq(info(db).failures, 2);
  char *p = zm_try_calloc_tag(db, 10, 100);
  void *q = zm_try_malloc_tag(db, 100);
  cr_assert(p && q);
  for (int i = 0; i < 1000; i++)
    cr_assert_eq(p[i], 0);
  cr_assert_eq(zm_tag_of(p), db);
  cr_assert_eq(zm_tag_of(q), db);
  cr_assert_eq(info(db).live_blocks, 2);
  zm_free(p);
  zm_free(q);
  cr_assert_eq(info(db).used, 0);
}

#define THREADS 8
#define ROUNDS 3000
static zm_tag thread_tags[THREADS];
static void *_Atomic handoff[THREADS][64];

static void *worker(void *arg) {
  int id = (int)(intptr_t)arg;
  zm_tag_set_current(thread_tags[id % 3]);
  unsigned seed = (unsigned)id * 7919u + 1;
  for (int i = 0; i < ROUNDS; i++) {
    seed = seed * 1103515245u + 12345u;
    size_t n = 1 + (seed >> 8) % 3000;
    void *p = (seed & 1) ? zm_malloc(n) : zm_malloc_tag(thread_tags[(seed >> 4) % 3], n);
    if (seed & 2)
      p = zm_realloc(p, n * 2);
    /* hand the block to another slot: whoever finds one frees it */
    void *old = atomic_exchange(&handoff[(id + 1) % THREADS][seed % 64], p);
    zm_free(old);
  }
  return NULL;
}

Test(tags, exact_across_threads_and_exits, .timeout = 60) {
  zm_tag a = zm_tag_new("a");
  thread_tags[0] = a;
  thread_tags[1] = zm_tag_new_child(a, "a.b");
  thread_tags[2] = zm_tag_new("c");
  for (int gen = 0; gen < 3; gen++) {
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
      pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i);
    for (int i = 0; i < THREADS; i++)
      pthread_join(th[i], NULL);
    cr_assert_eq(roots_sum(), zm_used_memory(), "generation %d", gen);
  }
  for (int i = 0; i < THREADS; i++)
    for (int j = 0; j < 64; j++)
      zm_free(atomic_exchange(&handoff[i][j], NULL));
  for (zm_tag t = 0; t < zm_tag_count(); t++) {
    cr_assert_eq(zm_tag_used(t), 0, "tag %u", t);
    cr_assert_eq(info(t).live_blocks, 0, "tag %u", t);
  }
  cr_assert_eq(zm_used_memory(), 0);
}
