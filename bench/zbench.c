/* zbench: one measurement of one contender on one workload, in this process.
 *
 *   zbench CONTENDER WORKLOAD THREADS [--scale X] [--pin]
 *
 * CONTENDER  raw raw-sized mutex atomic slots16 floor
 *            zm-lean zm-lean-sized zm-header zm-header-sized zm-debug
 * WORKLOAD   churn mixed realloc prodcons memory
 * THREADS    worker threads (prodcons: producer/consumer pairs, so twice as
 *            many threads; memory: always 1)
 *
 *   zbench calibrate
 *
 * measures the machine instead: how much a second thread adds to the
 * throughput of plain arithmetic (2.0 on two real cores), the round trip of
 * a cache line between two threads, and the cost of a relaxed atomic add
 * (lock xadd) on one line from one and from two threads.
 *
 * Prints one line of key=value pairs (see main). The driver
 * (zbench_driver) runs this program once per figure and repetition, so that
 * every figure comes from a fresh process with a fixed block layout. */
#define _GNU_SOURCE /* CPU_SET, pthread_setaffinity_np */
#include "designs.h"
#include "raw.h"

#include <zmem.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* Work per run at --scale 1: totals, divided among the threads. Chosen so
 * that a run of glibc's malloc on one thread takes about 60 ms on the
 * reference machine (the faster allocators take less), which keeps the full
 * matrix within about 15 minutes. */
#define ZB_CHURN_OPS 1500000ull
#define ZB_MIXED_OPS 750000ull
#define ZB_REALLOC_OPS 1000000ull
#define ZB_PRODCONS_OPS 400000ull
#define ZB_MEMORY_BLOCKS 10000000ull

#define ZB_CHURN_SIZE 64
#define ZB_CHURN_BATCH 32
#define ZB_WINDOW 1024u
#define ZB_STRING_LEN 4096
#define ZB_MEMORY_SIZE 32
#define ZB_TABLE_LEN 65536u
#define ZB_TABLE_MASK (ZB_TABLE_LEN - 1)
#define ZB_QUEUE_CAP 4096u
#define ZB_QUEUE_BATCH 32u

/* ------------------------------------------------------------- plumbing */

static inline void zb_escape(void *p) { __asm__ volatile("" : : "g"(p) : "memory"); }

typedef struct zb_queue {
  _Alignas(64) _Atomic uint64_t tail; /* written by the producer */
  _Alignas(64) _Atomic uint64_t head; /* written by the consumer */
  _Alignas(64) void *slot[ZB_QUEUE_CAP];
} zb_queue;

typedef struct zb_run zb_run;

typedef struct zb_thread {
  zb_run *run;
  int id;
  uint64_t ops, done_ops;
  uint32_t *sizes, *slots, *appends; /* ZB_TABLE_LEN each */
  void **live;
  uint32_t *live_len;
  zb_queue *queue;
  pthread_t tid;
  struct timespec cpu0, cpu1; /* this thread's CPU time at start and stop */
  struct timespec wall0, wall1; /* and the monotonic clock */
} zb_thread;

typedef struct zb_impl {
  void (*warm)(zb_thread *);
  void (*churn)(zb_thread *);
  void (*mixed)(zb_thread *);
  void (*realloc)(zb_thread *);
  void (*producer)(zb_thread *);
  void (*consumer)(zb_thread *);
  void (*memory)(zb_thread *);
} zb_impl;

struct zb_run {
  const zb_impl *impl;
  int workload; /* enum below */
  int nthreads; /* worker threads actually started */
  bool pin;
  pthread_barrier_t start, stop;
  long rss_base_kb, hwm_kb;
  size_t used_at_peak;
  size_t usable_at_peak; /* sum of the contender's usable sizes */
};

enum { W_CHURN, W_MIXED, W_REALLOC, W_PRODCONS, W_MEMORY, W_COUNT };
static const char *const workload_names[W_COUNT] = {"churn", "mixed", "realloc",
                                                    "prodcons", "memory"};

/* Each worker reads the clocks itself: the main thread may be descheduled
 * right after the start barrier, and a clock read there could come after the
 * work (it did, on this 2-CPU machine). The run's wall time is from the
 * earliest start to the latest stop. */
static void zb_start(zb_thread *t) {
  pthread_barrier_wait(&t->run->start);
  clock_gettime(CLOCK_MONOTONIC, &t->wall0);
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t->cpu0);
}

static void zb_stop(zb_thread *t) {
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t->cpu1);
  clock_gettime(CLOCK_MONOTONIC, &t->wall1);
  pthread_barrier_wait(&t->run->stop);
}

static double ts_ns(struct timespec ts) {
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void zb_backoff(unsigned *spins) {
  if (++*spins < 64)
    __builtin_ia32_pause();
  else
    sched_yield();
}

/* The producer found the ring full: publish what it has, wait for room. */
static uint64_t zb_wait_space(zb_queue *q, uint64_t tail) {
  atomic_store_explicit(&q->tail, tail, memory_order_release);
  unsigned spins = 0;
  for (;;) {
    uint64_t head = atomic_load_explicit(&q->head, memory_order_acquire);
    if (tail - head < ZB_QUEUE_CAP)
      return head;
    zb_backoff(&spins);
  }
}

/* The consumer ran dry: publish its progress, wait for more items. */
static uint64_t zb_wait_items(zb_queue *q, uint64_t head) {
  atomic_store_explicit(&q->head, head, memory_order_release);
  unsigned spins = 0;
  for (;;) {
    uint64_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
    if (tail != head)
      return tail;
    zb_backoff(&spins);
  }
}

static long status_kb(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f)
    return -1;
  char line[256];
  long v = -1;
  size_t kl = strlen(key);
  while (fgets(line, sizeof line, f))
    if (strncmp(line, key, kl) == 0 && line[kl] == ':')
      v = strtol(line + kl + 1, NULL, 10);
  fclose(f);
  return v;
}

static size_t (*used_reader)(void); /* the contender's used-memory figure */
static size_t (*usable_reader)(const void *); /* and its usable-size query */

/* Workload 5 at its peak: RSS, the contender's used figure, and the sum of
 * the usable sizes it reports (so that used - usable is its own overhead,
 * whatever the allocator's size classes). Outside the timed part. */
static void zb_memory_peak(zb_thread *t) {
  t->run->hwm_kb = status_kb("VmHWM");
  t->run->used_at_peak = used_reader ? used_reader() : 0;
  size_t sum = 0;
  for (uint64_t k = 0; usable_reader && k < t->ops; k++)
    sum += usable_reader(t->live[k]);
  t->run->usable_at_peak = sum;
}

static size_t raw_usable(const void *p) { return rb_usable((void *)p); }

/* ----------------------------------------------------------- contenders */

#define WL_NAME raw
#define WL_MALLOC(n) rb_malloc(n)
#define WL_FREE(p, n) rb_free(p)
#define WL_REALLOC(p, old, n) rb_realloc(p, n)
#include "workloads.h"

#define WL_NAME raw_sized
#define WL_MALLOC(n) rb_malloc(n)
#define WL_FREE(p, n) rb_free_sized(p, n)
#define WL_REALLOC(p, old, n) rb_realloc(p, n)
#define WL_FREE_RESIZED(p, n) rb_free_resized(p, n)
#include "workloads.h"

#define WL_NAME mutex
#define WL_MALLOC(n) mx_malloc(n)
#define WL_FREE(p, n) mx_free(p)
#define WL_REALLOC(p, old, n) mx_realloc(p, n)
#include "workloads.h"

#define WL_NAME atomic
#define WL_MALLOC(n) ga_malloc(n)
#define WL_FREE(p, n) ga_free(p)
#define WL_REALLOC(p, old, n) ga_realloc(p, n)
#include "workloads.h"

#define WL_NAME slots16
#define WL_MALLOC(n) s16_malloc(n)
#define WL_FREE(p, n) s16_free(p)
#define WL_REALLOC(p, old, n) s16_realloc(p, n)
#include "workloads.h"

#define WL_NAME floor
#define WL_MALLOC(n) fl_malloc(n)
#define WL_FREE(p, n) fl_free(p)
#define WL_REALLOC(p, old, n) fl_realloc(p, n)
#include "workloads.h"

#define WL_NAME zm
#define WL_MALLOC(n) zm_malloc(n)
#define WL_FREE(p, n) zm_free(p)
#define WL_REALLOC(p, old, n) zm_realloc(p, n)
#include "workloads.h"

#define WL_NAME zm_sized
#define WL_MALLOC(n) zm_malloc(n)
#define WL_FREE(p, n) zm_free_sized(p, n)
#define WL_REALLOC(p, old, n) zm_realloc(p, n)
#include "workloads.h"

typedef struct contender {
  const char *name;
  const zb_impl *impl;
  size_t (*used)(void);
  size_t (*usable)(const void *);
  zm_layout layout; /* zmem contenders only */
} contender;

static const contender contenders[] = {
    {"raw", &wl_raw_impl, NULL, raw_usable, 0},
    {"raw-sized", &wl_raw_sized_impl, NULL, raw_usable, 0},
    {"mutex", &wl_mutex_impl, mx_used_memory, NULL, 0},
    {"atomic", &wl_atomic_impl, ga_used_memory, raw_usable, 0},
    {"slots16", &wl_slots16_impl, s16_used_memory, raw_usable, 0},
    {"floor", &wl_floor_impl, NULL, raw_usable, 0},
    {"zm-lean", &wl_zm_impl, zm_used_memory, zm_usable_size, ZM_LAYOUT_LEAN},
    {"zm-lean-sized", &wl_zm_sized_impl, zm_used_memory, zm_usable_size,
     ZM_LAYOUT_LEAN},
    {"zm-header", &wl_zm_impl, zm_used_memory, zm_usable_size,
     ZM_LAYOUT_HEADER},
    {"zm-header-sized", &wl_zm_sized_impl, zm_used_memory, zm_usable_size,
     ZM_LAYOUT_HEADER},
    /* the debug layout's cost (bench/debug_cost.sh), not in the driver's
     * matrix */
    {"zm-debug", &wl_zm_impl, zm_used_memory, zm_usable_size,
     ZM_LAYOUT_DEBUG},
};
#define NCONTENDERS (sizeof contenders / sizeof contenders[0])

/* --------------------------------------------------------------- tables */

static uint64_t rng_next(uint64_t *s) { /* splitmix64 */
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) * 0x1p-53; }

static void *zb_map(size_t bytes) {
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    perror("zbench: mmap");
    exit(2);
  }
  memset(p, 0, bytes); /* fault it in before any measurement */
  return p;
}

/* Sizes 16 B..4 KiB, uniform in log2: size = 16 * 2^(8u), computed once;
 * each thread reads it from its own offset. The tables live in mmap'd
 * memory so that no contender allocates them. */
static uint32_t *log_sizes;

static void fill_tables(zb_thread *t, uint64_t seed) {
  if (!log_sizes) {
    uint64_t s = 0x10651ae5;
    log_sizes = zb_map(2 * ZB_TABLE_LEN * sizeof(uint32_t));
    for (uint32_t i = 0; i < 2 * ZB_TABLE_LEN; i++)
      log_sizes[i] = (uint32_t)(16.0 * exp2(8.0 * rng_unit(&s)));
  }
  uint32_t *m = zb_map(2 * ZB_TABLE_LEN * sizeof(uint32_t));
  t->sizes = log_sizes + rng_next(&seed) % ZB_TABLE_LEN;
  t->slots = m;
  t->appends = m + ZB_TABLE_LEN;
  for (uint32_t i = 0; i < ZB_TABLE_LEN; i++) {
    t->slots[i] = (uint32_t)(rng_next(&seed) % ZB_WINDOW);
    t->appends[i] = (uint32_t)(1 + rng_next(&seed) % 64);
  }
}

/* ---------------------------------------------------------------- runs */

static void pin_to(int id) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET((int)(id % (n > 0 ? n : 1)), &set);
  (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void *worker(void *arg) {
  zb_thread *t = arg;
  const zb_impl *im = t->run->impl;
  if (t->run->pin)
    pin_to(t->id);
  im->warm(t);
  switch (t->run->workload) {
  case W_CHURN:
    im->churn(t);
    break;
  case W_MIXED:
    im->mixed(t);
    break;
  case W_REALLOC:
    im->realloc(t);
    break;
  case W_PRODCONS:
    (t->id % 2 == 0 ? im->producer : im->consumer)(t);
    break;
  case W_MEMORY:
    im->memory(t);
    break;
  }
  return NULL;
}

static uint64_t base_ops(int w) {
  switch (w) {
  case W_CHURN:
    return ZB_CHURN_OPS;
  case W_MIXED:
    return ZB_MIXED_OPS;
  case W_REALLOC:
    return ZB_REALLOC_OPS;
  case W_PRODCONS:
    return ZB_PRODCONS_OPS;
  default:
    return ZB_MEMORY_BLOCKS;
  }
}

static double now_ns(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Sets up the threads' data (none of it from a contender), starts them,
 * times the span between the two barriers. */
static double run_threads(zb_run *r, zb_thread *th, uint64_t per_thread) {
  for (int i = 0; i < r->nthreads; i++) {
    zb_thread *t = &th[i];
    t->run = r;
    t->id = i;
    t->ops = per_thread;
    t->done_ops = per_thread;
    int table_id = r->workload == W_PRODCONS ? i / 2 : i;
    fill_tables(t, 0x5eed0000u + (uint64_t)table_id);
    if (r->workload == W_MIXED) {
      t->live = zb_map(ZB_WINDOW * sizeof(void *));
      t->live_len = zb_map(ZB_WINDOW * sizeof(uint32_t));
    }
    if (r->workload == W_MEMORY)
      t->live = zb_map(per_thread * sizeof(void *));
    if (r->workload == W_PRODCONS)
      t->queue = i % 2 == 0 ? zb_map(sizeof(zb_queue)) : th[i - 1].queue;
  }
  r->rss_base_kb = status_kb("VmRSS");
  pthread_barrier_init(&r->start, NULL, (unsigned)r->nthreads + 1);
  pthread_barrier_init(&r->stop, NULL, (unsigned)r->nthreads + 1);
  for (int i = 0; i < r->nthreads; i++)
    if (pthread_create(&th[i].tid, NULL, worker, &th[i]) != 0) {
      fprintf(stderr, "zbench: pthread_create failed\n");
      exit(2);
    }
  pthread_barrier_wait(&r->start);
  pthread_barrier_wait(&r->stop);
  for (int i = 0; i < r->nthreads; i++)
    pthread_join(th[i].tid, NULL);
  double t0 = ts_ns(th[0].wall0), t1 = ts_ns(th[0].wall1);
  for (int i = 1; i < r->nthreads; i++) {
    t0 = ts_ns(th[i].wall0) < t0 ? ts_ns(th[i].wall0) : t0;
    t1 = ts_ns(th[i].wall1) > t1 ? ts_ns(th[i].wall1) : t1;
  }
  return t1 - t0;
}

/* ------------------------------------------------------------ calibrate */

static _Alignas(64) _Atomic uint64_t cal_line;
static _Alignas(64) _Atomic uint64_t cal_counter;
#define CAL_TRIPS 200000
#define CAL_ADDS 20000000
#define CAL_ALU 200000000

static void *cal_pong(void *arg) {
  (void)arg;
  pin_to(1);
  for (uint64_t i = 0; i < CAL_TRIPS; i++) {
    while (atomic_load_explicit(&cal_line, memory_order_acquire) != 2 * i + 1)
      ;
    atomic_store_explicit(&cal_line, 2 * i + 2, memory_order_release);
  }
  return NULL;
}

static void *cal_adder(void *arg) {
  pin_to((int)(intptr_t)arg);
  for (int i = 0; i < CAL_ADDS; i++)
    atomic_fetch_add_explicit(&cal_counter, 1, memory_order_relaxed);
  return NULL;
}

static void *cal_alu(void *arg) {
  pin_to((int)(intptr_t)arg);
  uint64_t x = (uint64_t)(intptr_t)arg + 1;
  for (int i = 0; i < CAL_ALU; i++)
    x = x * 6364136223846793005ull + 1442695040888963407ull;
  zb_escape(&x);
  return NULL;
}

/* Runs fn in n threads (cpus 0..n-1) and returns the wall time. */
static double cal_threads(void *(*fn)(void *), int n) {
  pthread_t t[2];
  double t0 = now_ns(CLOCK_MONOTONIC);
  for (int i = 0; i < n; i++)
    pthread_create(&t[i], NULL, fn, (void *)(intptr_t)i);
  for (int i = 0; i < n; i++)
    pthread_join(t[i], NULL);
  return now_ns(CLOCK_MONOTONIC) - t0;
}

static int calibrate(void) {
  pthread_t t;
  pthread_create(&t, NULL, cal_pong, NULL);
  pin_to(0);
  double t0 = now_ns(CLOCK_MONOTONIC);
  for (uint64_t i = 0; i < CAL_TRIPS; i++) {
    atomic_store_explicit(&cal_line, 2 * i + 1, memory_order_release);
    while (atomic_load_explicit(&cal_line, memory_order_acquire) != 2 * i + 2)
      ;
  }
  double trip = (now_ns(CLOCK_MONOTONIC) - t0) / CAL_TRIPS;
  pthread_join(t, NULL);
  double add1 = cal_threads(cal_adder, 1) / CAL_ADDS;
  double add2 = cal_threads(cal_adder, 2) / CAL_ADDS / 2;
  double alu1 = cal_threads(cal_alu, 1);
  double alu2 = cal_threads(cal_alu, 2);
  printf("calibrate cpus=%ld two_thread_throughput=%.2f line_round_trip_ns=%.1f "
         "atomic_add_1t_ns=%.2f atomic_add_2t_ns=%.2f\n",
         sysconf(_SC_NPROCESSORS_ONLN), 2 * alu1 / alu2, trip, add1, add2);
  return 0;
}

static const contender *find_contender(const char *name) {
  for (size_t i = 0; i < NCONTENDERS; i++)
    if (strcmp(contenders[i].name, name) == 0)
      return &contenders[i];
  return NULL;
}

static int find_workload(const char *name) {
  for (int w = 0; w < W_COUNT; w++)
    if (strcmp(workload_names[w], name) == 0)
      return w;
  return -1;
}

static int usage(void) {
  fprintf(stderr, "usage: zbench CONTENDER WORKLOAD THREADS [--scale X] "
                  "[--pin]\n  contenders:");
  for (size_t i = 0; i < NCONTENDERS; i++)
    fprintf(stderr, " %s", contenders[i].name);
  fprintf(stderr, "\n  workloads: churn mixed realloc prodcons memory\n");
  return 2;
}

static void set_layout(const contender *c) {
  if (c->layout && zm_set_layout(c->layout) != 0) {
    fprintf(stderr, "zbench: zm_set_layout: %s\n", strerror(errno));
    exit(2);
  }
}

static const char *layout_name(void) {
  zm_stats st = {.size = sizeof st};
  if (zm_get_stats(&st) != 0)
    return "?";
  return st.layout == ZM_LAYOUT_LEAN     ? "lean"
         : st.layout == ZM_LAYOUT_HEADER ? "header"
                                         : "debug";
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "calibrate") == 0)
    return calibrate();
  if (argc < 4)
    return usage();
  const contender *c = find_contender(argv[1]);
  int w = find_workload(argv[2]);
  int threads = atoi(argv[3]);
  double scale = 1.0;
  bool pin = false;
  for (int i = 4; i < argc; i++) {
    if (strcmp(argv[i], "--scale") == 0 && i + 1 < argc)
      scale = atof(argv[++i]);
    else if (strcmp(argv[i], "--pin") == 0)
      pin = true;
    else
      return usage();
  }
  if (!c || w < 0 || threads < 1 || threads > 256 || !(scale > 0))
    return usage();
  if (w == W_MEMORY)
    threads = 1;
  set_layout(c);
  used_reader = c->used;
  usable_reader = c->usable;

  zb_run r = {.impl = c->impl, .workload = w, .pin = pin};
  r.nthreads = w == W_PRODCONS ? 2 * threads : threads;
  uint64_t total = w == W_MEMORY ? ZB_MEMORY_BLOCKS
                                 : (uint64_t)((double)base_ops(w) * scale);
  uint64_t per_thread = total / (uint64_t)threads;
  zb_thread *th = zb_map((size_t)r.nthreads * sizeof *th);

  size_t used0 = c->used ? c->used() : 0;
  double cpu0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
  double wall = run_threads(&r, th, per_thread);
  double cpu = now_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
  size_t used1 = c->used ? c->used() : 0;

  uint64_t ops = 0;
  double timed_cpu = 0; /* CPU time of all threads between the barriers */
  for (int i = 0; i < r.nthreads; i++) {
    if (w != W_PRODCONS || i % 2 == 0)
      ops += th[i].done_ops;
    timed_cpu += ts_ns(th[i].cpu1) - ts_ns(th[i].cpu0);
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);

  char version[64];
  printf("contender=%s backend=%s backend_version=%s workload=%s threads=%d "
         "layout=%s ops=%" PRIu64
         " wall_ns=%.0f ns_per_op=%.4f cpu_ns=%.0f timed_cpu_ns=%.0f "
         "maxrss_kb=%ld exact=%d",
         c->name, RB_NAME, rb_version(version, sizeof version),
         workload_names[w], threads,
         c->layout ? layout_name() : "-", ops, wall, wall / (double)ops, cpu,
         timed_cpu, ru.ru_maxrss, used1 == used0);
  if (w == W_MEMORY)
    printf(" rss_base_kb=%ld hwm_kb=%ld used_bytes=%zu usable_bytes=%zu",
           r.rss_base_kb, r.hwm_kb, r.used_at_peak - used0, r.usable_at_peak);
  printf("\n");
  return used1 == used0 ? 0 : 3;
}
