/* Hard limits, soft limits and tag limits. */
#include <criterion/criterion.h>
#include <zmem.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static size_t oom_size;
static int oom_calls;
static void count_oom(size_t size, void *arg) {
  (void)arg;
  oom_size = size;
  oom_calls++;
}

Test(limits, hard_limit_refuses_and_reports) {
  zm_set_oom_handler(count_oom, NULL);
  cr_assert_eq(zm_set_limit(100000), 0);
  cr_assert_eq(zm_get_limit(), 100000);
  void *a = zm_malloc(60000);
  cr_assert_not_null(a);
  errno = 0;
  cr_assert_null(zm_try_malloc(60000));
  cr_assert_eq(errno, ENOMEM);
  cr_assert_eq(oom_calls, 0);
  cr_assert_null(zm_malloc(60000));
  cr_assert_eq(oom_calls, 1);
  cr_assert_eq(oom_size, 60000);
  cr_assert_null(zm_calloc(60000, 1));
  cr_assert_null(zm_aligned_alloc(64, 60000));
  zm_stats st = {.size = sizeof st};
  zm_get_stats(&st);
  cr_assert_eq(st.failures, 4);
  cr_assert_leq(zm_used_memory(), 100000);
  zm_free(a);
  cr_assert_eq(zm_set_limit(0), 0);
  void *b = zm_malloc(200000);
  cr_assert_not_null(b);
  zm_free(b);
  cr_assert_eq(zm_used_memory(), 0);
}

Test(limits, refused_realloc_keeps_block) {
  cr_assert_eq(zm_set_limit(50000), 0);
  char *p = zm_malloc(1000);
  memset(p, 'x', 1000);
  size_t used = zm_used_memory();
  errno = 0;
  cr_assert_null(zm_try_realloc(p, 80000));
  cr_assert_eq(errno, ENOMEM);
  cr_assert_eq(zm_used_memory(), used);
  for (int i = 0; i < 1000; i++)
    cr_assert_eq(p[i], 'x');
  char *q = zm_realloc(p, 20000); /* growth within the limit */
  cr_assert_not_null(q);
  cr_assert_eq(q[999], 'x');
  q = zm_realloc(q, 10); /* shrink */
  cr_assert_eq(q[9], 'x');
  zm_free(q);
  cr_assert_eq(zm_used_memory(), 0);
}

Test(limits, limit_counts_what_was_live) {
  void *a = zm_malloc(30000);
  zm_set_limit(zm_used_memory() + 1000);
  cr_assert_null(zm_try_malloc(2000));
  zm_free(a); /* gives back what was live when the limit was set */
  void *b = zm_malloc(20000);
  cr_assert_not_null(b);
  zm_free(b);
}

#define RACERS 8
static size_t race_limit, base_used;
static _Atomic int over;
static _Atomic long granted;
static _Atomic size_t held; /* what the racers hold, counted by themselves */

/* The bytes zmem counts for a block: its usable size, plus the header in the
 * header layout. */
static size_t cost(const void *p) {
  zm_stats st = {.size = sizeof st};
  zm_get_stats(&st);
  return zm_usable_size(p) + (st.layout == ZM_LAYOUT_HEADER ? ZM_HEADER_SIZE : 0);
}

/* A racer adds a block's cost after zmem granted it and takes it off before
 * freeing it, so `held` never exceeds what zmem has charged: it must stay
 * within the limit at every moment. (zm_used_memory() is a sum read thread
 * by thread, not one snapshot, so it cannot serve as this witness.) */
static void *racer(void *arg) {
  (void)arg;
  void *held_blocks[400];
  int n = 0;
  for (int round = 0; round < 20; round++) {
    for (int i = 0; i < 400; i++) {
      void *p = zm_try_malloc(64 + (size_t)(i % 7) * 100);
      if (!p)
        continue;
      held_blocks[n++] = p;
      granted++;
      if (atomic_fetch_add(&held, cost(p)) + cost(p) > race_limit - base_used)
        over = 1;
    }
    while (n > 0) {
      void *p = held_blocks[--n];
      atomic_fetch_sub(&held, cost(p));
      zm_free(p);
    }
  }
  return NULL;
}

Test(limits, never_exceeded_by_racing_threads, .timeout = 60) {
  base_used = zm_used_memory();
  race_limit = base_used + 64 * 1024;
  zm_set_limit(race_limit);
  pthread_t th[RACERS];
  for (int i = 0; i < RACERS; i++)
    pthread_create(&th[i], NULL, racer, NULL);
  for (int i = 0; i < RACERS; i++)
    pthread_join(th[i], NULL);
  cr_assert_eq(over, 0, "the racers held more than the hard limit");
  cr_assert_gt(granted, 0);
  cr_assert_eq(zm_used_memory(), base_used);
  cr_assert_leq(zm_peak_memory(), race_limit + RACERS * ZM_PEAK_GRANULE);
}

static int soft_calls;
static size_t soft_used, soft_seen_limit;
static void on_soft(size_t used, size_t limit, void *arg) {
  soft_calls++;
  soft_used = used;
  soft_seen_limit = limit;
  *(int *)arg = 1;
}

Test(limits, soft_limit_fires_once_per_upward_crossing) {
  int flag = 0;
  cr_assert_eq(zm_set_soft_limit(100000, on_soft, &flag), 0);
  cr_assert_eq(zm_get_soft_limit(), 100000);
  void *a = zm_malloc(60000);
  cr_assert_eq(soft_calls, 0);
  void *b = zm_malloc(60000);
  cr_assert_eq(soft_calls, 1);
  cr_assert_eq(flag, 1);
  cr_assert_gt(soft_used, 100000);
  cr_assert_eq(soft_seen_limit, 100000);
  void *c = zm_malloc(60000); /* still above: no new call */
  cr_assert_eq(soft_calls, 1);
  zm_free(c);
  zm_free(b); /* back below: re-armed */
  b = zm_malloc(60000);
  cr_assert_eq(soft_calls, 2);
  zm_free(a);
  zm_free(b);
  zm_set_soft_limit(0, NULL, NULL);
  cr_assert_eq(zm_get_soft_limit(), 0);
  a = zm_malloc(300000);
  cr_assert_eq(soft_calls, 2);
  zm_free(a);
}

Test(limits, soft_limit_default_writes_a_line) {
  int fds[2];
  cr_assert_eq(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 2);
    zm_set_soft_limit(1000, NULL, NULL);
    void *p = zm_malloc(5000);
    zm_free(p);
    _exit(0);
  }
  close(fds[1]);
  char buf[256] = {0};
  size_t n = 0;
  for (ssize_t r; (r = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0;)
    n += (size_t)r;
  int status;
  waitpid(pid, &status, 0);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  cr_assert_gt(n, 0);
  cr_assert(strstr(buf, "zmem: soft limit of 1000 bytes crossed") != NULL, "%s",
            buf);
}

Test(limits, tag_limit_covers_children) {
  zm_tag db = zm_tag_new("db");
  zm_tag idx = zm_tag_new_child(db, "index");
  zm_tag net = zm_tag_new("net");
  cr_assert_eq(zm_tag_set_limit(db, 10000), 0);
  zm_tag_info ti = {.size = sizeof ti};
  zm_tag_stats(db, &ti);
  cr_assert_eq(ti.limit, 10000);
  void *a = zm_malloc_tag(idx, 6000);
  cr_assert_not_null(a);
  errno = 0;
  zm_tag_set_current(idx);
  cr_assert_null(zm_try_malloc(6000)); /* idx counts into db */
  cr_assert_eq(errno, ENOMEM);
  zm_tag_set_current(db);
  cr_assert_null(zm_try_malloc(6000));
  void *b = zm_malloc_tag(net, 50000); /* other tags are not limited */
  cr_assert_not_null(b);
  zm_tag_stats(idx, &ti);
  cr_assert_eq(ti.failures, 1);
  zm_free(a);
  a = zm_malloc_tag(idx, 6000);
  cr_assert_not_null(a);
  cr_assert_eq(zm_tag_set_limit(db, 0), 0);
  void *c = zm_malloc_tag(idx, 60000);
  cr_assert_not_null(c);
  zm_free(a);
  zm_free(b);
  zm_free(c);
  cr_assert_eq(zm_used_memory(), 0);
}

Test(limits, tag_limit_needs_tags) {
  if (zm_get_backend()->usable_size == NULL)
    cr_skip_test("no size query: header layout, tags could be enabled");
  void *p = zm_malloc(1);
  errno = 0;
  cr_assert_eq(zm_tag_set_limit(0, 100), -1);
  cr_assert_eq(errno, EINVAL);
  zm_free(p);
}

/* Limits switched on and off while other threads allocate: the counter's
 * snapshot of what is live can miss blocks in flight, so it may go below
 * zero when they are freed. That must never be taken for a refusal: with a
 * limit far above anything allocated, no allocation may fail. */
static _Atomic int toggling = 1;
static _Atomic int refused;

static void *toggler(void *arg) {
  (void)arg;
  while (atomic_load(&toggling)) {
    zm_set_limit((size_t)1 << 40);
    zm_set_limit(0);
  }
  zm_set_limit((size_t)1 << 40);
  return NULL;
}

static void *small_allocs(void *arg) {
  (void)arg;
  for (int i = 0; i < 20000; i++) {
    void *p = zm_try_malloc(16);
    if (!p)
      refused = 1;
    zm_free(p);
  }
  return NULL;
}

Test(limits, a_limit_set_under_traffic_refuses_nothing_it_should_not,
     .timeout = 60) {
  pthread_t tog[2], th[4];
  for (int i = 0; i < 2; i++)
    pthread_create(&tog[i], NULL, toggler, NULL);
  for (int i = 0; i < 4; i++)
    pthread_create(&th[i], NULL, small_allocs, NULL);
  for (int i = 0; i < 4; i++)
    pthread_join(th[i], NULL);
  toggling = 0;
  for (int i = 0; i < 2; i++)
    pthread_join(tog[i], NULL);
  cr_assert_eq(refused, 0, "an allocation far below the limit was refused");
  void *p = zm_malloc(16); /* and the counter still admits after the race */
  cr_assert_not_null(p);
  zm_free(p);
}

/* ---------------------------------------------- the per-thread reserves */

#define BIG_LIMIT ((size_t)1 << 20)
#define STEP 1000

/* Allocates STEP-byte blocks into v until one is refused; *n gets how many.
 * True if the refusal was due: the memory in use plus the refused block's
 * cost, plus `slack` (what other threads may hold), exceeds the limit, and
 * the limit was never exceeded. No assertion, so that a fork child can use
 * it. */
static bool fill_to_limit(void **v, int max, size_t limit, size_t slack,
                          int *n) {
  void *probe = zm_malloc(STEP);
  if (!probe)
    return false;
  size_t c = cost(probe);
  zm_free(probe);
  bool ok = true;
  *n = 0;
  while (*n < max && (v[*n] = zm_try_malloc(STEP)) != NULL) {
    ok = ok && zm_used_memory() <= limit;
    (*n)++;
  }
  return ok && *n < max && zm_used_memory() + c + slack > limit;
}

static void free_all(void **v, int n) {
  for (int i = 0; i < n; i++)
    zm_free(v[i]);
}

static void *take_reserve(void *arg) {
  (void)arg;
  for (int i = 0; i < 100; i++)
    zm_free(zm_malloc(STEP * (size_t)(i % 5 + 1)));
  return NULL;
}

/* Threads that charged reserves and exited gave them back: one thread can
 * then use the whole limit. */
Test(limits, exited_threads_leave_the_whole_limit) {
  static void *v[2000];
  size_t base = zm_used_memory(), limit = base + BIG_LIMIT;
  cr_assert_eq(zm_set_limit(limit), 0);
  pthread_t th[4];
  for (int i = 0; i < 4; i++)
    pthread_create(&th[i], NULL, take_reserve, NULL);
  for (int i = 0; i < 4; i++)
    pthread_join(th[i], NULL);
  take_reserve(NULL); /* and the caller's own reserve counts for itself */
  int n;
  cr_assert(fill_to_limit(v, 2000, limit, 0, &n), "refused within the limit");
  free_all(v, n);
  cr_assert_eq(zm_used_memory(), base);
  /* and again, with the reserve the frees left */
  cr_assert(fill_to_limit(v, 2000, limit, 0, &n), "refused within the limit");
  free_all(v, n);
  cr_assert_eq(zm_used_memory(), base);
}

static _Atomic int phase;
static void *idle_holder(void *arg) {
  void **block = arg;
  *block = zm_malloc(STEP); /* charges a reserve */
  atomic_store(&phase, 1);
  while (atomic_load(&phase) == 1)
    usleep(1000);
  zm_free(*block); /* its next call gives the reserve back */
  *block = NULL;
  atomic_store(&phase, 3);
  while (atomic_load(&phase) == 3)
    usleep(1000);
  return NULL;
}

/* A live thread's reserve can refuse another thread's request only within
 * its bound (64 KiB); after a refusal, the holder's next call gives it
 * back. */
Test(limits, a_refusal_asks_reserves_back) {
  static void *v[2000], *w[2000];
  size_t base = zm_used_memory(), limit = base + BIG_LIMIT;
  cr_assert_eq(zm_set_limit(limit), 0);
  void *block = NULL;
  pthread_t th;
  pthread_create(&th, NULL, idle_holder, &block);
  while (atomic_load(&phase) != 1)
    usleep(1000);
  int n, m;
  cr_assert(fill_to_limit(v, 2000, limit, 64 * 1024, &n),
            "refused beyond the other thread's reserve");
  atomic_store(&phase, 2);
  while (atomic_load(&phase) != 3)
    usleep(1000);
  cr_assert(fill_to_limit(w, 2000, limit, 0, &m),
            "refused within the limit after the reserve was asked back");
  atomic_store(&phase, 4);
  pthread_join(th, NULL);
  free_all(v, n);
  free_all(w, m);
  cr_assert_eq(zm_used_memory(), base);
}

static _Atomic int forked;
/* Global, so that in the fork child (which has no holder thread) the block
 * is still reachable and memcheck does not call it lost. */
static void *held_across_fork;
static void *hold_until_forked(void *arg) {
  (void)arg;
  held_across_fork = zm_malloc(STEP);
  atomic_store(&phase, 1);
  while (!atomic_load(&forked))
    usleep(1000);
  zm_free(held_across_fork);
  return NULL;
}

/* A fork child has only the forking thread: the other threads' reserves
 * are given back, and the child can use the whole limit. */
Test(limits, a_fork_child_gets_the_other_threads_reserves) {
  static void *v[2000];
  size_t base = zm_used_memory(), limit = base + BIG_LIMIT;
  cr_assert_eq(zm_set_limit(limit), 0);
  pthread_t th;
  pthread_create(&th, NULL, hold_until_forked, NULL);
  while (atomic_load(&phase) != 1)
    usleep(1000);
  pid_t pid = fork();
  if (pid == 0) {
    /* the holder's block stays in use in the child; its reserve does not */
    int n;
    bool ok = fill_to_limit(v, 2000, limit, 0, &n);
    free_all(v, n);
    _exit(ok ? 0 : 1);
  }
  atomic_store(&forked, 1);
  pthread_join(th, NULL);
  int status = 0;
  waitpid(pid, &status, 0);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
            "the fork child was refused within the limit");
  cr_assert_eq(zm_used_memory(), base);
}
