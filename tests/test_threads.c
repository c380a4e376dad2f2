/* Threads: exact accounting under cross-thread frees and thread churn, the
 * documented peak bound, concurrent OOM handlers, fork while allocating. */
#include "harness.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXALIGN alignof(max_align_t)

static pthread_t spawn(void *(*fn)(void *), void *arg) {
  pthread_t t;
  int rc = pthread_create(&t, NULL, fn, arg);
  cr_assert_eq(rc, 0, "pthread_create: %s", strerror(rc));
  return t;
}

static void join(pthread_t t) {
  int rc = pthread_join(t, NULL);
  cr_assert_eq(rc, 0, "pthread_join: %s", strerror(rc));
}

/* ------------------------------------------------------ shared handoff */

/* A block in flight, with what is needed to check and free it. */
typedef struct item {
  void *p;
  size_t n;        /* bytes filled with the pattern */
  size_t requested; /* for zm_free_sized; 0: use zm_free */
  unsigned seed;
} item;

enum { QCAP = 4096 };

/* Blocks handed from the thread that allocated them to another that frees
 * them. Survives thread generations. */
static struct {
  pthread_mutex_t mu;
  item items[QCAP];
  size_t count;
} queue = {.mu = PTHREAD_MUTEX_INITIALIZER};

static bool push(item it) {
  pthread_mutex_lock(&queue.mu);
  bool ok = queue.count < QCAP;
  if (ok)
    queue.items[queue.count++] = it;
  pthread_mutex_unlock(&queue.mu);
  return ok;
}

static bool pop(item *it, uint64_t *rng) {
  pthread_mutex_lock(&queue.mu);
  bool ok = queue.count > 0;
  if (ok) {
    size_t k = rng_next(rng) % queue.count; /* not FIFO: mix owners */
    *it = queue.items[k];
    queue.items[k] = queue.items[--queue.count];
  }
  pthread_mutex_unlock(&queue.mu);
  return ok;
}

/* Counts of the calls a worker made, to compare with zm_get_stats. */
typedef struct tally {
  uint64_t malloc, calloc, realloc, aligned, free, moved;
  unsigned corrupt; /* blocks whose pattern did not survive */
} tally;

static void release(item *it, tally *t) {
  if (!check_pattern(it->p, it->n, it->seed))
    t->corrupt++;
  if (it->requested)
    zm_free_sized(it->p, it->requested);
  else
    zm_free(it->p);
  t->free++;
  it->p = NULL;
}

/* A new block of a random kind and size. */
static item make_block(uint64_t *rng, tally *t) {
  uint64_t r = rng_next(rng);
  size_t n = r % 100 < 85 ? r % 512 : r % 100 < 99 ? r % 16384 : r % (1 << 19);
  unsigned seed = (unsigned)(r >> 40);
  item it = {.n = n, .requested = n, .seed = seed};
  switch ((r >> 20) % 6) {
  case 0:
    it.p = zm_malloc(n);
    t->malloc++;
    break;
  case 1:
    it.p = zm_calloc(n, 1);
    t->calloc++;
    if (it.p && !all_bytes(it.p, n, 0))
      t->corrupt++;
    break;
  case 2:
    it.p = zm_aligned_alloc((size_t)32 << ((r >> 8) % 8), n);
    it.requested = 0;
    t->aligned++;
    break;
  case 3:
    it.p = zm_try_malloc(n);
    t->malloc++;
    break;
  case 4:
    it.p = zm_realloc(NULL, n);
    t->realloc++;
    break;
  default: {
    static const char src[512];
    it.n = it.requested = n % sizeof src;
    it.p = zm_memdup(src, it.n);
    t->malloc++;
  }
  }
  cr_assert_not_null(it.p);
  fill_pattern(it.p, it.n, seed);
  return it;
}

static void resize(item *it, uint64_t *rng, tally *t) {
  size_t n = rng_next(rng) % 5000 + 1;
  if (!check_pattern(it->p, it->n, it->seed))
    t->corrupt++;
  uintptr_t before = (uintptr_t)it->p;
  void *q = zm_realloc(it->p, n);
  cr_assert_not_null(q);
  t->realloc++;
  t->moved += (uintptr_t)q != before;
  size_t keep = it->n < n ? it->n : n;
  if (!check_pattern(q, keep, it->seed))
    t->corrupt++;
  *it = (item){.p = q, .n = n, .requested = n, .seed = it->seed + 1};
  fill_pattern(q, n, it->seed);
}

typedef struct worker {
  uint64_t seed;
  unsigned iters;
  tally t;
} worker;

/* Random work on a private set of blocks; about a third of them handed to
 * the queue for another thread (maybe of a later generation) to free. */
static void *stress_worker(void *arg) {
  worker *w = arg;
  uint64_t rng = w->seed;
  enum { MINE = 64 };
  item mine[MINE] = {{0}};
  for (unsigned i = 0; i < w->iters; i++) {
    item *it = &mine[rng_next(&rng) % MINE];
    unsigned r = (unsigned)(rng_next(&rng) % 100);
    if (!it->p) {
      *it = make_block(&rng, &w->t);
    } else if (r < 25) {
      resize(it, &rng, &w->t);
    } else if (r < 55) {
      if (push(*it))
        it->p = NULL;
      else
        release(it, &w->t);
    } else {
      release(it, &w->t);
    }
    item other;
    if (r % 3 == 0 && pop(&other, &rng))
      release(&other, &w->t);
  }
  /* Leave some blocks for the next generation, free the rest. */
  for (size_t k = 0; k < MINE; k++)
    if (mine[k].p && !(k % 4 == 0 && push(mine[k])))
      release(&mine[k], &w->t);
  return NULL;
}

static void add_tally(tally *sum, const tally *t) {
  sum->malloc += t->malloc;
  sum->calloc += t->calloc;
  sum->realloc += t->realloc;
  sum->aligned += t->aligned;
  sum->free += t->free;
  sum->moved += t->moved;
  sum->corrupt += t->corrupt;
}

/* Every block is freed: used memory and live blocks are back at s0, and the
 * calls zmem counted since s0 are exactly the ones the threads made. */
static zm_stats assert_back_to_baseline(zm_stats s0, const tally *total) {
  zm_stats s1 = stats_now();
  cr_assert_eq(s1.used, s0.used, "used %zu, baseline %zu", s1.used, s0.used);
  cr_assert_eq(s1.live_blocks, s0.live_blocks);
  cr_assert_eq(s1.malloc_calls - s0.malloc_calls, total->malloc);
  cr_assert_eq(s1.calloc_calls - s0.calloc_calls, total->calloc);
  cr_assert_eq(s1.realloc_calls - s0.realloc_calls, total->realloc);
  cr_assert_eq(s1.aligned_calls - s0.aligned_calls, total->aligned);
  cr_assert_eq(s1.free_calls - s0.free_calls, total->free);
  return s1;
}

Test(threads, stress_cross_thread_frees_are_exact) {
  enum { T = 8, GENERATIONS = 5 };
  zm_stats s0 = stats_now();
  tally total = {0};
  for (unsigned g = 0; g < GENERATIONS; g++) {
    worker w[T];
    pthread_t th[T];
    for (unsigned i = 0; i < T; i++) {
      w[i] = (worker){.seed = 1000 * g + i + 1, .iters = scaled(8000)};
      th[i] = spawn(stress_worker, &w[i]);
    }
    for (unsigned i = 0; i < T; i++) {
      join(th[i]);
      add_tally(&total, &w[i].t);
    }
    /* Threads of this generation are gone; their blocks in the queue are
     * still counted. */
    zm_stats s = stats_now();
    cr_assert_eq(s.live_blocks - s0.live_blocks, queue.count,
                 "generation %u: %zu live blocks, %zu in the queue", g,
                 s.live_blocks - s0.live_blocks, queue.count);
  }
  uint64_t rng = 7;
  item it;
  while (pop(&it, &rng))
    release(&it, &total);
  cr_assert_eq(total.corrupt, 0, "%u blocks were corrupted", total.corrupt);
  zm_stats s1 = assert_back_to_baseline(s0, &total);
  cr_assert_eq(s1.realloc_moved - s0.realloc_moved, total.moved);
  cr_assert_eq(s1.failures, s0.failures);
  cr_assert_geq(s1.peak, s1.used);
}

/* --------------------------------------------- blocks outliving threads */

typedef struct batch {
  item items[200];
  size_t count;
  tally t;
} batch;

static void *alloc_batch(void *arg) {
  batch *b = arg;
  uint64_t rng = 99;
  for (size_t i = 0; i < b->count; i++)
    b->items[i] = make_block(&rng, &b->t);
  return NULL;
}

static void *free_odd_half(void *arg) {
  batch *b = arg;
  for (size_t i = 1; i < b->count; i += 2)
    release(&b->items[i], &b->t);
  return NULL;
}

Test(threads, blocks_freed_after_their_thread_exited) {
  static batch b = {.count = 200};
  zm_stats s0 = stats_now();
  join(spawn(alloc_batch, &b));
  size_t cost = 0;
  for (size_t i = 0; i < b.count; i++)
    if (b.items[i].requested) /* over-aligned blocks have hidden padding */
      cost += block_cost(b.items[i].p);
  zm_stats s1 = stats_now();
  cr_assert_eq(s1.live_blocks - s0.live_blocks, b.count,
               "the exited thread's blocks were lost from the count");
  cr_assert_geq(s1.used - s0.used, cost);
  cr_assert_eq(s1.malloc_calls - s0.malloc_calls, b.t.malloc);
  cr_assert_eq(s1.calloc_calls - s0.calloc_calls, b.t.calloc);
  cr_assert_eq(s1.aligned_calls - s0.aligned_calls, b.t.aligned);
  join(spawn(free_odd_half, &b)); /* another thread, also gone afterwards */
  for (size_t i = 0; i < b.count; i += 2)
    release(&b.items[i], &b.t); /* and the main thread */
  cr_assert_eq(b.t.corrupt, 0);
  zm_stats s2 = stats_now();
  cr_assert_eq(s2.used, s0.used);
  cr_assert_eq(s2.live_blocks, s0.live_blocks);
  cr_assert_eq(s2.free_calls - s0.free_calls, b.count);
}

/* Many short-lived threads: every exit folds its counters exactly. */
static void *short_life(void *arg) {
  tally *t = arg;
  uint64_t rng = (uint64_t)(uintptr_t)arg;
  item keep = make_block(&rng, t);
  for (int i = 0; i < 10; i++) {
    item it = make_block(&rng, t);
    release(&it, t);
  }
  cr_assert(push(keep)); /* freed by a later thread or by main */
  item other;
  if (pop(&other, &rng))
    release(&other, t);
  return NULL;
}

Test(threads, thread_churn_folds_counters_exactly) {
  enum { ROUNDS = 25, WIDTH = 8 };
  zm_stats s0 = stats_now();
  tally each[ROUNDS][WIDTH];
  memset(each, 0, sizeof each);
  unsigned rounds = harness_slow() ? 5 : ROUNDS;
  for (unsigned r = 0; r < rounds; r++) {
    pthread_t th[WIDTH];
    for (unsigned i = 0; i < WIDTH; i++)
      th[i] = spawn(short_life, &each[r][i]);
    for (unsigned i = 0; i < WIDTH; i++)
      join(th[i]);
  }
  tally total = {0};
  uint64_t rng = 3;
  item it;
  while (pop(&it, &rng))
    release(&it, &total);
  for (unsigned r = 0; r < ROUNDS; r++)
    for (unsigned i = 0; i < WIDTH; i++)
      add_tally(&total, &each[r][i]);
  cr_assert_eq(total.corrupt, 0);
  assert_back_to_baseline(s0, &total);
}

/* A thread whose first zmem call fails before anything was allocated in the
 * process, then exits; later threads (which may reuse its stack and TLS)
 * allocate. Regression: the failure used to arm a thread-exit hook on a key
 * that was never created. */
static void *first_call_fails(void *arg) {
  (void)arg;
  errno = 0;
  cr_assert_null(zm_try_malloc(opaque(SIZE_MAX)));
  cr_assert_eq(errno, ENOMEM);
  cr_assert_null(zm_try_calloc(opaque(SIZE_MAX), 2));
  return NULL;
}

static void *alloc_and_free_ten(void *arg) {
  (void)arg;
  for (int i = 0; i < 10; i++) {
    void *p = zm_malloc(100);
    cr_assert_not_null(p);
    zm_free(p);
  }
  return NULL;
}

Test(threads, first_call_failing_before_any_allocation) {
  zm_stats s0 = stats_now();
  cr_assert_eq(s0.malloc_calls + s0.calloc_calls, 0, "not a fresh process");
  for (int i = 0; i < 4; i++)
    join(spawn(first_call_fails, NULL));
  for (int i = 0; i < 4; i++)
    join(spawn(alloc_and_free_ten, NULL));
  zm_stats s1 = stats_now();
  cr_assert_eq(s1.failures, 8);
  cr_assert_eq(s1.malloc_calls, 4 + 40);
  cr_assert_eq(s1.calloc_calls, 4);
  cr_assert_eq(s1.free_calls, 40);
  cr_assert_eq(s1.used, 0);
  cr_assert_eq(s1.live_blocks, 0);
}

/* ---------------------------------------------------------- peak bound */

typedef struct holder {
  pthread_barrier_t *all_ready, *all_holding, *release;
  size_t each;   /* bytes to hold, in blocks of at most `chunk` */
  size_t chunk;
  size_t held;   /* out: what the blocks cost */
} holder;

static void *hold(void *arg) {
  holder *h = arg;
  enum { MAXB = 256 };
  void *blocks[MAXB];
  size_t nb = 0;
  pthread_barrier_wait(h->all_ready);
  for (size_t got = 0; got < h->each && nb < MAXB; got += h->chunk) {
    blocks[nb] = zm_malloc(h->chunk);
    cr_assert_not_null(blocks[nb]);
    h->held += block_cost(blocks[nb]);
    nb++;
  }
  pthread_barrier_wait(h->all_holding);
  pthread_barrier_wait(h->release);
  for (size_t i = 0; i < nb; i++)
    zm_free(blocks[i]);
  return NULL;
}

/* T threads hold their blocks at the same moment; zmem.h bounds the peak's
 * error by ZM_PEAK_GRANULE per thread alive at the true peak. */
static void check_peak_bound(unsigned T, size_t each, size_t chunk) {
  pthread_barrier_t ready, holding, release_b;
  pthread_barrier_init(&ready, NULL, T + 1);
  pthread_barrier_init(&holding, NULL, T + 1);
  pthread_barrier_init(&release_b, NULL, T + 1);
  holder h[32];
  pthread_t th[32];
  cr_assert_leq(T, 32);
  for (unsigned i = 0; i < T; i++) {
    h[i] = (holder){&ready, &holding, &release_b, each, chunk, 0};
    th[i] = spawn(hold, &h[i]);
  }
  zm_reset_peak();
  size_t base = zm_used_memory();
  pthread_barrier_wait(&ready);
  pthread_barrier_wait(&holding);
  size_t true_peak = 0;
  for (unsigned i = 0; i < T; i++)
    true_peak += h[i].held;
  cr_assert_eq(zm_used_memory() - base, true_peak, "used while all hold");
  cr_assert_geq(zm_peak_memory(), zm_used_memory());
  pthread_barrier_wait(&release_b);
  for (unsigned i = 0; i < T; i++)
    join(th[i]);
  cr_assert_eq(zm_used_memory(), base);
  size_t peak = zm_peak_memory() - base;
  size_t slack = T * ZM_PEAK_GRANULE;
  cr_assert_geq(peak + slack, true_peak,
                "%u threads x %zu: peak %zu, true peak %zu, slack %zu", T,
                each, peak, true_peak, slack);
  cr_assert_leq(peak, true_peak + slack,
                "%u threads x %zu: peak %zu, true peak %zu, slack %zu", T,
                each, peak, true_peak, slack);
  pthread_barrier_destroy(&ready);
  pthread_barrier_destroy(&holding);
  pthread_barrier_destroy(&release_b);
}

Test(threads, peak_within_documented_bound) {
  const struct {
    unsigned threads;
    size_t each, chunk;
  } cases[] = {
      {8, ZM_PEAK_GRANULE / 2, ZM_PEAK_GRANULE / 2}, /* nobody publishes */
      {16, ZM_PEAK_GRANULE / 2, 1024},
      {8, 3 * ZM_PEAK_GRANULE, 4096},                /* many publishes */
      {12, ZM_PEAK_GRANULE - 100, ZM_PEAK_GRANULE / 4},
      {4, 10 * ZM_PEAK_GRANULE, 256 * 1024},
  };
  for (size_t i = 0; i < ARRAY_LEN(cases); i++)
    for (int round = 0; round < 3; round++)
      check_peak_bound(cases[i].threads, cases[i].each, cases[i].chunk);
}

/* ------------------------------------------------ concurrent OOM handler */

static _Atomic unsigned oom_calls;
static void count_oom(size_t size, void *arg) {
  cr_assert_eq(size, SIZE_MAX);
  cr_assert_eq(arg, &oom_calls);
  atomic_fetch_add(&oom_calls, 1);
}

static void *fail_many(void *arg) {
  unsigned *fails = arg;
  for (int i = 0; i < 200; i++) {
    errno = 0;
    void *p = i % 2 ? zm_malloc(opaque(SIZE_MAX))
                    : zm_calloc(opaque(SIZE_MAX), 16);
    if (!p && errno == ENOMEM)
      ++*fails;
    void *ok = zm_malloc(64); /* successes in between */
    cr_assert_not_null(ok);
    zm_free(ok);
  }
  return NULL;
}

Test(threads, handler_runs_concurrently) {
  enum { T = 8 };
  zm_set_oom_handler(count_oom, &oom_calls);
  zm_stats s0 = stats_now();
  unsigned fails[T] = {0};
  pthread_t th[T];
  for (unsigned i = 0; i < T; i++)
    th[i] = spawn(fail_many, &fails[i]);
  unsigned total = 0;
  for (unsigned i = 0; i < T; i++) {
    join(th[i]);
    total += fails[i];
  }
  cr_assert_eq(total, T * 200);
  cr_assert_eq(atomic_load(&oom_calls), T * 200);
  zm_stats s1 = stats_now();
  cr_assert_eq(s1.failures - s0.failures, T * 200);
  cr_assert_eq(s1.used, s0.used);
}

/* ------------------------------------------ readers while others write */

static _Atomic bool stop_readers;

static void *reader(void *arg) {
  (void)arg;
  unsigned long reads = 0;
  while (!atomic_load(&stop_readers)) {
    zm_stats st = {.size = sizeof st};
    cr_assert_eq(zm_get_stats(&st), 0);
    cr_assert_lt(st.used, (size_t)1 << 40, "absurd used %zu", st.used);
    (void)zm_used_memory();
    (void)zm_peak_memory();
    if (++reads % 64 == 0)
      zm_reset_peak();
  }
  return NULL;
}

Test(threads, stats_readers_race_with_allocators) {
  enum { T = 4 };
  zm_stats s0 = stats_now();
  pthread_t rd = spawn(reader, NULL);
  worker w[T];
  pthread_t th[T];
  for (unsigned i = 0; i < T; i++) {
    w[i] = (worker){.seed = 77 + i, .iters = scaled(10000)};
    th[i] = spawn(stress_worker, &w[i]);
  }
  for (unsigned i = 0; i < T; i++)
    join(th[i]);
  atomic_store(&stop_readers, true);
  join(rd);
  tally total = {0};
  uint64_t rng = 5;
  item it;
  while (pop(&it, &rng))
    release(&it, &total);
  cr_assert_eq(total.corrupt, 0);
  zm_stats s1 = stats_now();
  cr_assert_eq(s1.used, s0.used);
  cr_assert_eq(s1.live_blocks, s0.live_blocks);
}

/* ---------------------------------------------------------------- fork */

static _Atomic bool stop_forkers;

static void quiet_oom(size_t size, void *arg) {
  (void)size;
  (void)arg;
}

/* What the other threads do while the main thread forks: every path that
 * takes one of zmem's locks (allocation, the first allocation's set-up, the
 * counters, zm_get_stats, the OOM handler). */
static void *churn(void *arg) {
  int kind = (int)(intptr_t)arg;
  while (!atomic_load(&stop_forkers)) {
    if (kind == 0) {
      void *p = zm_malloc(128);
      cr_assert_not_null(p);
      (void)zm_used_memory();
      zm_free(p);
    } else if (kind == 1) {
      zm_stats st = {.size = sizeof st};
      cr_assert_eq(zm_get_stats(&st), 0);
      (void)zm_peak_memory();
    } else {
      zm_set_oom_handler(quiet_oom, NULL);
      cr_assert_null(zm_malloc(opaque(SIZE_MAX)));
    }
  }
  return NULL;
}

/* A child that hangs writes where it hangs before it dies. */
static void hung(int sig) {
  (void)sig;
  static const char msg[] = "fork child hung; its stack:\n";
  void *frames[32];
  (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
  backtrace_symbols_fd(frames, backtrace(frames, 32), STDERR_FILENO);
  _exit(3);
}

/* Ends a forked child. Under valgrind by exec, since valgrind would check
 * the child for leaks at exit, and the blocks that the parent's other threads
 * held in registers (which the fork did not copy into the child) would show
 * as lost. */
static void end_child(bool ok) {
  if (harness_valgrind())
    execl(ok ? "/bin/true" : "/bin/false", ok ? "true" : "false",
          (char *)NULL);
  _exit(ok ? 0 : 1);
}

/* fork() while other threads allocate and read the counters: the child must
 * not inherit a held lock. */
Test(threads, fork_while_allocating) {
  enum { T = 3 };
  void *frames[4];
  (void)backtrace(frames, 4); /* loads what backtrace needs, in the parent */
  pthread_t th[T];
  for (unsigned i = 0; i < T; i++)
    th[i] = spawn(churn, (void *)(intptr_t)i);
  for (unsigned i = 0; i < scaled(40); i++) {
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
      signal(SIGALRM, hung);
      alarm(20);
      void *p = zm_malloc(1000);
      size_t used = zm_used_memory();
      zm_stats st = {.size = sizeof st};
      int rc = zm_get_stats(&st);
      zm_set_oom_handler(quiet_oom, NULL);
      bool ok = p && used >= 1000 && rc == 0 && !zm_malloc(opaque(SIZE_MAX));
      if (!ok)
        fprintf(stderr, "fork child: p %p, used %zu, zm_get_stats %d\n", p,
                used, rc);
      zm_free(p);
      end_child(ok);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "fork %u: child status %#x (3: it hung, see its stack)", i,
              status);
  }
  atomic_store(&stop_forkers, true);
  for (unsigned i = 0; i < T; i++)
    join(th[i]);
  cr_assert_eq(zm_used_memory(), 0);
}
