/* Which steps `zmem sweep` runs, past the plain one per request: the
 * baseline's site census read and merged (record.h), the steps of
 * --by-site / --per-site, the random subset of --shallow, and the coverage
 * of the call sites. See sweep.h and docs/sweep.md. */
#include "sweep.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------- census */

static int by_hash(const void *a, const void *b) {
  uint64_t x = ((const zmr_census_entry *)a)->hash, y = ((const zmr_census_entry *)b)->hash;
  return x < y ? -1 : x > y;
}

static uint64_t min_set(uint64_t a, uint64_t b) { return !a ? b : !b ? a : a < b ? a : b; }

/* e absorbs the same site's entry from another process. */
static void merge(zmr_census_entry *e, const zmr_census_entry *o) {
  e->first = min_set(e->first, o->first);
  e->last = e->last > o->last ? e->last : o->last;
  e->calls += o->calls;
  for (int i = 0; i < ZMR_CENSUS_SAMPLES; i++)
    e->sample[i] = min_set(e->sample[i], o->sample[i]);
}

int zmc_census_read(zmc_sweep *s, int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(zmr_census_entry))
    return -1;
  size_t n = (size_t)st.st_size / sizeof(zmr_census_entry);
  zmr_census_entry *e = malloc(n * sizeof *e);
  if (!e || pread(fd, e, n * sizeof *e, 0) != (ssize_t)(n * sizeof *e)) {
    free(e);
    return -1;
  }
  /* The file is the program's to write too: what makes no sense is dropped. */
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (e[i].hash && e[i].first && e[i].calls && e[i].last >= e[i].first)
      e[k++] = e[i];
  qsort(e, k, sizeof *e, by_hash);
  size_t m = 0;
  for (size_t i = 0; i < k; i++) {
    if (m && e[m - 1].hash == e[i].hash)
      merge(&e[m - 1], &e[i]);
    else
      e[m++] = e[i];
  }
  s->census = e;
  s->nsites = m;
  return m ? 0 : -1;
}

/* The requests of a site a step fails with --per-site K: its first call,
 * its last, then calls 2, 4, 8, ...; *n of them, distinct. */
static size_t site_requests(const zmc_sweep *s, const zmr_census_entry *e, uint64_t *out) {
  uint64_t cand[2 + ZMR_CENSUS_SAMPLES] = {e->first, e->last};
  memcpy(cand + 2, e->sample, sizeof e->sample);
  size_t n = 0;
  for (size_t i = 0; i < sizeof cand / sizeof *cand && n < s->per_site; i++) {
    bool dup = !cand[i];
    for (size_t j = 0; j < n && !dup; j++)
      dup = out[j] == cand[i];
    if (!dup)
      out[n++] = cand[i];
  }
  return n;
}

/* ---------------------------------------------------------------- plan */

static int ascending(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static uint64_t unique(uint64_t *v, uint64_t n) {
  qsort(v, n, sizeof *v, ascending);
  uint64_t m = 0;
  for (uint64_t i = 0; i < n; i++)
    if (!m || v[m - 1] != v[i])
      v[m++] = v[i];
  return m;
}

/* splitmix64: the --seed's stream of numbers. */
static uint64_t next_random(uint64_t *state) {
  uint64_t x = (*state += UINT64_C(0x9e3779b97f4a7c15));
  x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
  return x ^ (x >> 31);
}

/* --shallow N: N of the n steps in v, drawn by the seed (a partial
 * Fisher-Yates shuffle), in ascending order. */
static uint64_t draw(const zmc_sweep *s, uint64_t *v, uint64_t n) {
  if (!s->shallow || s->shallow >= n)
    return n;
  uint64_t state = s->seed;
  for (uint64_t i = 0; i < s->shallow; i++) {
    uint64_t j = i + next_random(&state) % (n - i);
    uint64_t t = v[i];
    v[i] = v[j];
    v[j] = t;
  }
  qsort(v, s->shallow, sizeof *v, ascending);
  return s->shallow;
}

/* Every step in --from..--to, or up to one past the baseline's requests. */
static uint64_t *every_step(const zmc_sweep *s, uint64_t *n) {
  uint64_t to = s->to ? s->to : s->base_hi + 1;
  *n = to >= s->from ? to - s->from + 1 : 0;
  uint64_t *v = malloc((*n ? *n : 1) * sizeof *v);
  for (uint64_t i = 0; v && i < *n; i++)
    v[i] = s->from + i;
  return v;
}

/* The requests that --by-site fails, within --from..--to. */
static uint64_t *site_steps(const zmc_sweep *s, uint64_t *n) {
  uint64_t *v = malloc((s->nsites * s->per_site + 1) * sizeof *v);
  *n = 0;
  for (uint64_t i = 0; v && i < s->nsites; i++) {
    uint64_t got[2 + ZMR_CENSUS_SAMPLES];
    size_t k = site_requests(s, &s->census[i], got);
    for (size_t j = 0; j < k; j++)
      if (got[j] >= s->from && (!s->to || got[j] <= s->to))
        v[(*n)++] = got[j];
  }
  if (v)
    *n = unique(v, *n);
  return v;
}

int zmc_sweep_plan(zmc_sweep *s) {
  if (!s->by_site && !s->shallow)
    return 0;
  uint64_t n;
  uint64_t *v = s->by_site ? site_steps(s, &n) : every_step(s, &n);
  if (!v)
    return -1;
  s->plan = v;
  s->candidates = n;
  s->nplan = draw(s, v, n);
  return 0;
}

/* ------------------------------------------------------------ coverage */

static bool failed_at(const zmc_sweep *s, uint64_t index) {
  return index < s->nsteps && s->steps[index].ran && s->steps[index].injected;
}

/* Whether a step in lo..hi ran and failed its request. */
static bool ran_within(const zmc_sweep *s, uint64_t lo, uint64_t hi) {
  if (!s->plan) {
    for (uint64_t k = lo > s->from ? lo : s->from; k <= hi; k++)
      if (k - s->from >= s->nsteps)
        return false;
      else if (failed_at(s, k - s->from))
        return true;
    return false;
  }
  size_t a = 0, b = s->nplan; /* the first planned step >= lo */
  while (a < b) {
    size_t m = a + (b - a) / 2;
    if (s->plan[m] < lo)
      a = m + 1;
    else
      b = m;
  }
  for (; a < s->nplan && s->plan[a] <= hi; a++)
    if (failed_at(s, a))
      return true;
  return false;
}

/* A lower bound: the census knows some of a site's requests (the first,
 * the last, the sampled calls), and all of them when its calls were one
 * run of consecutive requests (a loop that allocates nothing else). */
static bool site_failed(const zmc_sweep *s, const zmr_census_entry *e) {
  if (e->calls == e->last - e->first + 1)
    return ran_within(s, e->first, e->last);
  bool hit = ran_within(s, e->first, e->first) || ran_within(s, e->last, e->last);
  for (int k = 0; k < ZMR_CENSUS_SAMPLES && !hit; k++)
    hit = e->sample[k] && ran_within(s, e->sample[k], e->sample[k]);
  return hit;
}

void zmc_sweep_coverage(zmc_sweep *s) {
  s->sites_failed = 0;
  for (uint64_t i = 0; i < s->nsites; i++)
    s->sites_failed += site_failed(s, &s->census[i]);
}
