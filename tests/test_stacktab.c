/* The stack table (preload/stacktab.c): one entry per distinct stack,
 * exact counts, live figures at the peak, overflow, many threads, and a
 * reader that survives garbage. */
#include "stacktab.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct region {
  void *mem;
  size_t len;
} region;

/* A region whose end touches an inaccessible page: a reader that went past
 * it would fault. */
static region make_region(size_t len) {
  size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  size_t span = (len + pg - 1) / pg * pg;
  char *p = mmap(NULL, span + pg, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert_neq(p, MAP_FAILED);
  cr_assert_eq(mprotect(p + span, pg, PROT_NONE), 0);
  /* Start at a 64-byte boundary as close to the end as the length allows. */
  char *start = p + ((span - len) & ~(size_t)63);
  return (region){start, (size_t)(p + span - start)};
}

static zm__st_header *make_table(uint32_t cap, uint32_t depth, uint64_t frames, region *out) {
  size_t need = zm__stacktab_size(cap, depth, frames);
  cr_assert_gt(need, 0);
  region r = make_region(need);
  zm__st_header *t = zm__stacktab_init(r.mem, r.len, cap, depth, frames);
  cr_assert_not_null(t);
  if (out)
    *out = r;
  return t;
}

/* Collects what the reader returns, by the stack's first frame. */
#define NSITES 64
typedef struct got {
  int n, overflow;
  zm__st_site site[NSITES];
  uintptr_t first[NSITES];
  uintptr_t third[NSITES]; /* the frames live only during the read */
  uint32_t depth[NSITES];
} got;

static int collect(const zm__st_site *s, void *arg) {
  got *g = arg;
  if (s->depth == 0)
    g->overflow = g->n;
  cr_assert_lt(g->n, NSITES);
  g->site[g->n] = *s;
  g->first[g->n] = s->depth ? s->frames[0] : 0;
  g->third[g->n] = s->depth > 2 ? s->frames[2] : 0;
  g->depth[g->n] = s->depth;
  g->n++;
  return 0;
}

static const zm__st_site *by_first(const got *g, uintptr_t first) {
  for (int i = 0; i < g->n; i++)
    if (g->depth[i] && g->first[i] == first)
      return &g->site[i];
  return NULL;
}

static got read_all(region r, zm__st_summary *sum) {
  got g;
  memset(&g, 0, sizeof g);
  g.overflow = -1;
  char err[200] = "";
  cr_assert_eq(zm__stacktab_read(r.mem, r.len, sum, collect, &g, err, sizeof err), 0,
               "%s", err);
  return g;
}

Test(stacktab, shape_checks) {
  cr_assert_eq(zm__stacktab_size(0, 8, 8), 0);
  cr_assert_eq(zm__stacktab_size(6, 8, 8), 0);
  cr_assert_eq(zm__stacktab_size(8, 0, 8), 0);
  cr_assert_eq(zm__stacktab_size(8, 2000, 8), 0);
  cr_assert_eq(zm__stacktab_size(8, 8, 0), 0);
  char small[64] __attribute__((aligned(64)));
  cr_assert_null(zm__stacktab_init(small, sizeof small, 8, 8, 8));
}

Test(stacktab, one_entry_per_distinct_stack) {
  region r;
  zm__st_header *t = make_table(64, 8, 512, &r);
  uintptr_t a[] = {0x100, 0x200, 0x300}, b[] = {0x100, 0x200, 0x301};
  zm__st_entry *ea = zm__stacktab_find(t, a, 3);
  zm__st_entry *eb = zm__stacktab_find(t, b, 3);
  cr_assert_neq(ea, eb);
  cr_assert_eq(zm__stacktab_find(t, a, 3), ea);
  cr_assert_neq(zm__stacktab_find(t, a, 2), ea, "a prefix is another stack");
  zm__st_local l = {0};
  for (int i = 0; i < 5; i++)
    zm__stacktab_alloc(t, &l, ea, 1, 100);
  zm__stacktab_alloc(t, &l, eb, 1, 7);
  zm__stacktab_free(t, &l, ea, 1, 100);
  zm__st_summary sum;
  got g = read_all(r, &sum);
  cr_assert_eq(g.n, 3);
  cr_assert_eq(sum.entries, 3);
  cr_assert_eq(g.overflow, -1, "the overflow entry counted nothing");
  const zm__st_site *sa = NULL;
  for (int i = 0; i < g.n; i++)
    if (g.depth[i] == 3 && g.third[i] == 0x300)
      sa = &g.site[i];
  cr_assert_not_null(sa);
  cr_assert_eq(sa->alloc_count, 5);
  cr_assert_eq(sa->alloc_bytes, 500);
  cr_assert_eq(sa->live_count, 4);
  cr_assert_eq(sa->live_bytes, 400);
  cr_assert_eq(sa->peak_bytes, 500, "peak: 500 + 7 just after b's block");
  cr_assert_eq(sum.peak, 507);
}

Test(stacktab, depth_is_cut) {
  region r;
  zm__st_header *t = make_table(16, 4, 64, &r);
  uintptr_t deep[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  zm__st_entry *e = zm__stacktab_find(t, deep, 10);
  cr_assert_eq(e->depth, 4);
  cr_assert_eq(zm__stacktab_find(t, deep, 4), e);
}

/* Random allocations and frees on a few stacks, against a model that
 * records each stack's live bytes at every new maximum of the total. */
#define MS 6
Test(stacktab, live_at_the_peak_is_exact_with_one_thread) {
  region r;
  zm__st_header *t = make_table(64, 4, 256, &r);
  zm__st_entry *e[MS];
  uintptr_t fr[MS][2];
  for (int s = 0; s < MS; s++) {
    fr[s][0] = 0x1000 + (uintptr_t)s;
    fr[s][1] = 0x2000;
    e[s] = zm__stacktab_find(t, fr[s], 2);
  }
  enum { NB = 400 };
  struct { int s; uint64_t n; } blk[NB];
  int nb = 0;
  int64_t live[MS] = {0}, at_peak[MS] = {0}, total = 0, peak = 0;
  uint64_t acount[MS] = {0};
  zm__st_local l = {0};
  srand(7);
  for (int step = 0; step < 20000; step++) {
    bool grow = nb == 0 || (nb < NB && rand() % 100 < 52);
    if (grow) {
      int s = rand() % MS;
      uint64_t n = 1 + (uint64_t)(rand() % 5000);
      zm__stacktab_alloc(t, &l, e[s], 1, n);
      blk[nb].s = s;
      blk[nb].n = n;
      nb++;
      live[s] += (int64_t)n;
      acount[s]++;
      total += (int64_t)n;
      if (total > peak) {
        peak = total;
        memcpy(at_peak, live, sizeof live);
      }
    } else {
      int k = rand() % nb;
      zm__stacktab_free(t, &l, e[blk[k].s], 1, blk[k].n);
      live[blk[k].s] -= (int64_t)blk[k].n;
      total -= (int64_t)blk[k].n;
      blk[k] = blk[--nb];
    }
  }
  zm__st_summary sum;
  got g = read_all(r, &sum);
  cr_assert_eq(sum.peak, peak);
  cr_assert_gt(sum.peak, 500000, "the walk grew and shrank a while");
  for (int s = 0; s < MS; s++) {
    const zm__st_site *x = by_first(&g, fr[s][0]);
    cr_assert_not_null(x);
    cr_assert_eq(x->peak_bytes, at_peak[s], "stack %d", s);
    cr_assert_eq(x->live_bytes, live[s]);
    cr_assert_eq(x->alloc_count, acount[s]);
  }
}

Test(stacktab, overflow_keeps_totals_whole) {
  region r;
  zm__st_header *t = make_table(8, 4, 1024, &r); /* 6 entries at most */
  zm__st_local l = {0};
  for (uintptr_t s = 1; s <= 10; s++) {
    zm__st_entry *e = zm__stacktab_find(t, &s, 1);
    zm__stacktab_alloc(t, &l, e, 1, 10 * s);
  }
  zm__st_summary sum;
  got g = read_all(r, &sum);
  cr_assert_eq(sum.entries, 6);
  cr_assert_eq(sum.turned_away, 4);
  cr_assert_geq(g.overflow, 0);
  cr_assert_eq(g.site[g.overflow].alloc_count, 4);
  uint64_t bytes = 0;
  for (int i = 0; i < g.n; i++)
    bytes += g.site[i].alloc_bytes;
  cr_assert_eq(bytes, 550);
  cr_assert_eq(g.n, 7);
}

Test(stacktab, full_frame_pool_goes_to_overflow) {
  region r;
  zm__st_header *t = make_table(64, 8, 10, &r);
  uintptr_t f[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  zm__st_entry *a = zm__stacktab_find(t, f, 8);
  cr_assert_neq(a, &t->overflow);
  f[0] = 9;
  cr_assert_eq(zm__stacktab_find(t, f, 8), &t->overflow);
  f[0] = 10;
  zm__st_entry *c = zm__stacktab_find(t, f, 2);
  cr_assert_eq(c, &t->overflow, "the pool's counter passed its end for good");
  zm__st_local l = {0};
  zm__stacktab_alloc(t, &l, c, 1, 3);
  zm__st_summary sum;
  got g = read_all(r, &sum);
  cr_assert_eq(sum.entries, 1);
  cr_assert_eq(g.n, 2, "the stack that fitted and the overflow entry");
  cr_assert_eq(sum.turned_away, 2);
}

/* ------------------------------------------------------------ threads */

#define NT 8
#define PER 20000
typedef struct job {
  zm__st_header *t;
  int id;
} job;

static void *worker(void *arg) {
  job *j = arg;
  zm__st_local l = {0};
  for (int i = 0; i < PER; i++) {
    /* 16 stacks shared by every thread, 4 of the thread's own. */
    uintptr_t f[3] = {0x10 + (uintptr_t)(i % 16), 0x99, 0x77};
    if (i % 5 == 0) {
      f[0] = 0x5;
      f[1] = 0x1000 + (uintptr_t)j->id * 4 + (uintptr_t)(i % 4);
    }
    zm__st_entry *e = zm__stacktab_find(j->t, f, 3);
    zm__stacktab_alloc(j->t, &l, e, 1, 64);
    if (i % 2)
      zm__stacktab_free(j->t, &l, e, 1, 64);
  }
  zm__stacktab_thread_exit(j->t, &l);
  return NULL;
}

typedef struct reader {
  region r;
  _Atomic int stop;
  int reads;
} reader;

static int count_only(const zm__st_site *s, void *arg) {
  (void)s;
  ++*(int *)arg;
  return 0;
}

static void *read_loop(void *arg) {
  reader *rd = arg;
  char err[200];
  while (!atomic_load(&rd->stop)) {
    int n = 0;
    cr_assert_eq(zm__stacktab_read(rd->r.mem, rd->r.len, NULL, count_only, &n, err,
                                   sizeof err), 0, "%s", err);
    rd->reads++;
  }
  return NULL;
}

Test(stacktab, many_threads_count_exactly_without_duplicates) {
  region r;
  zm__st_header *t = make_table(1024, 4, 8192, &r);
  pthread_t th[NT], rt;
  job jobs[NT];
  reader rd = {r, 0, 0};
  cr_assert_eq(pthread_create(&rt, NULL, read_loop, &rd), 0);
  for (int i = 0; i < NT; i++) {
    jobs[i] = (job){t, i};
    cr_assert_eq(pthread_create(&th[i], NULL, worker, &jobs[i]), 0);
  }
  for (int i = 0; i < NT; i++)
    pthread_join(th[i], NULL);
  atomic_store(&rd.stop, 1);
  pthread_join(rt, NULL);
  zm__st_summary sum;
  got g;
  memset(&g, 0, sizeof g);
  char err[200];
  cr_assert_eq(zm__stacktab_read(r.mem, r.len, &sum, collect, &g, err, sizeof err), 0);
  cr_assert_eq(g.n, 16 + 4 * NT, "each distinct stack once");
  cr_assert_eq(sum.entries, 16 + 4 * NT);
  uint64_t calls = 0;
  int64_t live = 0, at_peak = 0;
  for (int i = 0; i < g.n; i++) {
    calls += g.site[i].alloc_count;
    live += g.site[i].live_bytes;
    at_peak += g.site[i].peak_bytes;
    cr_assert_eq(g.site[i].alloc_bytes, g.site[i].alloc_count * 64);
  }
  cr_assert_eq(calls, (uint64_t)NT * PER);
  cr_assert_eq(live, (int64_t)NT * PER / 2 * 64, "every other block is still live");
  /* The total grew but for one block at a time per thread; the peak may
   * miss what other threads kept unpublished, and the snapshot the blocks
   * in flight in other threads. */
  int64_t slack = (int64_t)NT * (ZM__ST_GRANULE + 64);
  cr_assert(sum.peak >= live - slack && sum.peak <= live + slack);
  cr_assert(at_peak <= sum.peak + slack && at_peak >= sum.peak - slack,
            "at peak %lld, peak %lld", (long long)at_peak, (long long)sum.peak);
}

/* ------------------------------------------------------------ garbage */

static void expect_error(region r, const char *what) {
  char err[200] = "";
  got g;
  memset(&g, 0, sizeof g);
  cr_assert_eq(zm__stacktab_read(r.mem, r.len, NULL, collect, &g, err, sizeof err), -1,
               "%s", what);
  cr_assert_neq(err[0], '\0', "%s: a reason", what);
}

Test(stacktab, reader_rejects_bad_tables) {
  region r;
  zm__st_header *t = make_table(16, 4, 64, &r);
  uintptr_t f[2] = {5, 6};
  zm__st_entry *e = zm__stacktab_find(t, f, 2);
  zm__st_header saved = *t;
  t->magic ^= 1;
  expect_error(r, "magic");
  *t = saved;
  t->version = 99;
  expect_error(r, "version");
  *t = saved;
  t->capacity = 12;
  expect_error(r, "capacity");
  *t = saved;
  t->capacity = 1u << 20;
  expect_error(r, "capacity beyond the region");
  *t = saved;
  t->frames_cap = UINT64_MAX / 4;
  expect_error(r, "frame pool beyond the region");
  *t = saved;
  region shorter = {r.mem, sizeof(zm__st_header) - 1};
  expect_error(shorter, "short region");
  region cut = {r.mem, r.len - 8};
  expect_error(cut, "region shorter than the table");
  e->depth = 99;
  expect_error(r, "depth");
  e->depth = 2;
  e->frames = 63;
  expect_error(r, "frames past the pool");
  e->frames = UINT64_MAX;
  expect_error(r, "frames index overflow");
  e->frames = 0;
  atomic_store(&e->state, 7);
  expect_error(r, "state");
}

Test(stacktab, reader_survives_random_corruption) {
  region r;
  zm__st_header *t = make_table(32, 8, 256, &r);
  zm__st_local l = {0};
  for (uintptr_t s = 0; s < 16; s++) {
    uintptr_t f[3] = {s, s + 1, s + 2};
    zm__stacktab_alloc(t, &l, zm__stacktab_find(t, f, 3), 1, 8);
  }
  size_t len = zm__stacktab_size(32, 8, 256);
  unsigned char *copy = malloc(len);
  memcpy(copy, r.mem, len);
  srand(11);
  int errors = 0;
  for (int round = 0; round < 5000; round++) {
    memcpy(r.mem, copy, len);
    int flips = 1 + rand() % 8;
    for (int k = 0; k < flips; k++) {
      /* Mostly the header and the entries, where the structure is. */
      size_t at = rand() % 4 ? (size_t)rand() % (sizeof(zm__st_header) +
                                                 32 * sizeof(zm__st_entry))
                             : (size_t)rand() % len;
      ((unsigned char *)r.mem)[at] = (unsigned char)rand();
    }
    char err[200];
    got g;
    memset(&g, 0, sizeof g);
    int rc = zm__stacktab_read(r.mem, r.len, NULL, count_only, &g.n, err, sizeof err);
    cr_assert(rc == 0 || rc == -1);
    errors += rc != 0;
  }
  cr_assert_gt(errors, 25, "corruption is noticed");
  free(copy);
}
