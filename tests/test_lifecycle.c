/* Threads and processes coming and going: a fork child that starts threads
 * after a parent with many threads forked, threads whose first zmem call
 * comes in the last round of key destructors, and the peak across many
 * resets. Each of these once corrupted the registry of per-thread counters
 * or brought back a stale figure. */
#include "harness.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <execinfo.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_t spawn_sized(void *(*fn)(void *), void *arg, size_t stack) {
  pthread_attr_t a;
  pthread_attr_init(&a);
  if (stack)
    cr_assert_eq(pthread_attr_setstacksize(&a, stack), 0);
  pthread_t t;
  int rc = pthread_create(&t, &a, fn, arg);
  pthread_attr_destroy(&a);
  cr_assert_eq(rc, 0, "pthread_create: %s", strerror(rc));
  return t;
}

static void join(pthread_t t) {
  int rc = pthread_join(t, NULL);
  cr_assert_eq(rc, 0, "pthread_join: %s", strerror(rc));
}

/* A child that hangs writes where it hangs before it dies. */
static void hung(int sig) {
  (void)sig;
  static const char msg[] = "child hung; its stack:\n";
  void *frames[32];
  (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
  backtrace_symbols_fd(frames, backtrace(frames, 32), STDERR_FILENO);
  _exit(3);
}

/* Ends a forked child. Under valgrind by exec: valgrind would check the
 * child for leaks at exit, and the blocks the parent's other threads held in
 * registers (not copied into the child) would show as lost. */
static void end_child(bool ok) {
  if (harness_valgrind())
    execl(ok ? "/bin/true" : "/bin/false", ok ? "true" : "false",
          (char *)NULL);
  _exit(ok ? 0 : 1);
}

static void wait_child_ok(pid_t pid) {
  int status;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
            "child status %#x (3: it hung, see its stack; a signal: it "
            "crashed)",
            status);
}

/* ------------------------------------------- fork with other threads live */

enum { PARENT_THREADS = 12, PARENT_BLOCKS = 16 };

/* Parent threads allocate, then wait, holding their blocks, until released:
 * the fork happens while every one of them has counts in its slot. */
static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  unsigned ready;
  bool release;
  zm_tag tag;
  void *blocks[PARENT_THREADS][PARENT_BLOCKS];
} park = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false, 0,
          {{0}}};

static void *parked(void *arg) {
  unsigned id = (unsigned)(uintptr_t)arg;
  for (unsigned k = 0; k < PARENT_BLOCKS; k++) {
    size_t n = 100 + 37 * k + 1000 * id;
    park.blocks[id][k] =
        park.tag ? zm_malloc_tag(park.tag, n) : zm_malloc(n);
    cr_assert_not_null(park.blocks[id][k]);
  }
  /* Half of them freed again: the slot holds allocations and frees. */
  for (unsigned k = 0; k < PARENT_BLOCKS; k += 2) {
    zm_free(park.blocks[id][k]);
    park.blocks[id][k] = NULL;
  }
  pthread_mutex_lock(&park.mu);
  park.ready++;
  pthread_cond_broadcast(&park.cv);
  while (!park.release)
    pthread_cond_wait(&park.cv, &park.mu);
  pthread_mutex_unlock(&park.mu);
  for (unsigned k = 0; k < PARENT_BLOCKS; k++)
    zm_free(park.blocks[id][k]);
  return NULL;
}

/* A thread of the child: allocates, frees, and leaves one block behind for
 * the child's main thread to free. */
static void *child_worker(void *arg) {
  void **leftover = arg;
  for (unsigned i = 0; i < 50; i++) {
    void *p = zm_malloc(24 + i * 13);
    if (!p)
      _exit(4);
    zm_free(p);
  }
  *leftover = zm_malloc(777);
  return NULL;
}

typedef struct figures {
  size_t used, blocks, tag_used;
} figures;

static figures figures_now(zm_tag tag) {
  zm_stats st = {.size = sizeof st};
  cr_assert_eq(zm_get_stats(&st), 0);
  return (figures){st.used, st.live_blocks, tag ? zm_tag_used(tag) : 0};
}

static bool same(figures a, figures b, const char *when) {
  if (a.used == b.used && a.blocks == b.blocks && a.tag_used == b.tag_used)
    return true;
  fprintf(stderr,
          "fork child, %s: used %zu (expected %zu), blocks %zu (%zu), "
          "tag %zu (%zu)\n",
          when, a.used, b.used, a.blocks, b.blocks, a.tag_used, b.tag_used);
  return false;
}

/* The child: starts and joins threads (small stacks among them, which the
 * C library carves from the dead parent threads' cached stacks), then frees
 * what the parent's threads had allocated. Every figure stays exact. */
static void fork_child(figures at_fork, figures base) {
  signal(SIGALRM, hung);
  alarm(30);
  bool ok = same(figures_now(park.tag), at_fork, "right after fork");
  for (unsigned round = 0; ok && round < 24; round++) {
    void *left[2] = {NULL, NULL};
    size_t stacks[2] = {round % 2 ? 0 : (size_t)PTHREAD_STACK_MIN * 4,
                        (size_t)PTHREAD_STACK_MIN * 2};
    pthread_t t[2];
    for (unsigned i = 0; i < 2; i++)
      t[i] = spawn_sized(child_worker, &left[i], stacks[i]);
    for (unsigned i = 0; i < 2; i++)
      join(t[i]);
    zm_free(left[0]);
    zm_free(left[1]);
    ok = same(figures_now(park.tag), at_fork, "after the child's threads");
  }
  for (unsigned i = 0; i < PARENT_THREADS; i++)
    for (unsigned k = 0; k < PARENT_BLOCKS; k++)
      zm_free(park.blocks[i][k]);
  ok = ok && same(figures_now(park.tag), base, "after freeing every block");
  end_child(ok);
}

static void fork_with_parked_threads(bool tags) {
  /* TSan kills a child of a multi-threaded process that starts a thread
   * (its die_after_fork), which is what this test is about. */
  if (harness_tsan())
    cr_skip_test("ThreadSanitizer forbids threads in a multi-threaded "
                 "process's fork child");
  if (tags) {
    park.tag = zm_tag_new("parked");
    cr_assert_neq(park.tag, ZM_TAG_INVALID);
  }
  void *frames[4];
  (void)backtrace(frames, 4); /* loads what backtrace needs, in the parent */
  zm_free(zm_malloc(1)); /* fixes the layout before the baseline */
  figures base = figures_now(park.tag);
  pthread_t th[PARENT_THREADS];
  for (unsigned i = 0; i < PARENT_THREADS; i++)
    th[i] = spawn_sized(parked, (void *)(uintptr_t)i, 0);
  pthread_mutex_lock(&park.mu);
  while (park.ready < PARENT_THREADS)
    pthread_cond_wait(&park.cv, &park.mu);
  pthread_mutex_unlock(&park.mu);
  figures at_fork = figures_now(park.tag);
  cr_assert_gt(at_fork.used, base.used);
  for (unsigned i = 0; i < scaled(4); i++) {
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0)
      fork_child(at_fork, base);
    wait_child_ok(pid);
  }
  pthread_mutex_lock(&park.mu);
  park.release = true;
  pthread_cond_broadcast(&park.cv);
  pthread_mutex_unlock(&park.mu);
  for (unsigned i = 0; i < PARENT_THREADS; i++)
    join(th[i]);
  cr_assert(same(figures_now(park.tag), base, "parent, at the end"));
}

Test(lifecycle, fork_child_starts_threads) { fork_with_parked_threads(false); }

Test(lifecycle, fork_child_starts_threads_tagged) {
  fork_with_parked_threads(true);
}

/* ------------------------------- first zmem call in the last destructor round */

static pthread_key_t late_key;
static void *late_blocks[64];
static _Atomic unsigned late_count;

/* Re-arms itself until the last round the C library runs, and allocates
 * there: the thread's first zmem call. */
static void late_destructor(void *v) {
  uintptr_t round = (uintptr_t)v;
  if (round < PTHREAD_DESTRUCTOR_ITERATIONS) {
    pthread_setspecific(late_key, (void *)(round + 1));
    return;
  }
  unsigned i = atomic_fetch_add(&late_count, 1);
  void *p = zm_malloc(1000 + i);
  zm_free(zm_malloc(50));
  if (i < 64)
    late_blocks[i] = p;
  else
    zm_free(p);
}

static void *late_thread(void *arg) {
  (void)arg;
  pthread_setspecific(late_key, (void *)(uintptr_t)1);
  return NULL;
}

static void *plain_worker(void *arg) {
  (void)arg;
  for (unsigned i = 0; i < 20; i++)
    zm_free(zm_malloc(64 + i));
  return NULL;
}

/* The C library reuses a dead thread's stack and TLS for the next thread:
 * a slot left registered by a thread whose exit hook never ran made the
 * registry a cycle, and readers hung. */
Test(lifecycle, first_call_in_last_destructor_round) {
  /* TSan's own per-thread state is gone by the last destructor round: its
   * malloc interceptor crashes there, with or without zmem. */
  if (harness_tsan())
    cr_skip_test("ThreadSanitizer cannot allocate in the last round of key "
                 "destructors");
  signal(SIGALRM, hung);
  alarm(20);
  /* zmem's key first: in each round it comes before late_key, so late
   * registration happens after zmem's destructor had its turn. */
  zm_free(zm_malloc(1));
  size_t base = zm_used_memory();
  cr_assert_eq(pthread_key_create(&late_key, late_destructor), 0);
  unsigned n = scaled(32);
  for (unsigned i = 0; i < n; i++) {
    join(spawn_sized(late_thread, NULL, 0));
    join(spawn_sized(plain_worker, NULL, 0));
    (void)zm_used_memory();
  }
  cr_assert_eq(atomic_load(&late_count), n);
  zm_stats st = stats_now();
  cr_assert_eq(st.live_blocks, n);
  for (unsigned i = 0; i < n; i++)
    zm_free(late_blocks[i]);
  cr_assert_eq(zm_used_memory(), base);
  cr_assert_eq(stats_now().live_blocks, 0);
}

/* ------------------------------------------------------ peak over resets */

/* A metrics scraper resets the peak once a second; after 65,536 resets a
 * 16-bit epoch came round again and an old candidate came back as the
 * peak. The block stays below ZM_PEAK_GRANULE, so it lives only in this
 * thread's candidate. */
Test(lifecycle, peak_does_not_come_back_after_many_resets) {
  zm_free(zm_malloc(1));
  size_t big = ZM_PEAK_GRANULE / 2;
  void *p = zm_malloc(big);
  cr_assert_not_null(p);
  zm_free(p);
  size_t used = zm_used_memory();
  cr_assert_geq(zm_peak_memory(), used + big);
  unsigned long resets = (harness_slow() ? 1 : 3) * 65536UL + 7;
  for (unsigned long i = 0; i < resets; i++) {
    zm_reset_peak();
    if (i % 65536 == 65535 || i < 3)
      cr_assert_lt(zm_peak_memory(), used + big, "reset %lu: peak %zu", i,
                   zm_peak_memory());
  }
  cr_assert_eq(zm_peak_memory(), used);
}
