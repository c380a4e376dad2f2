#include "summary.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int64_t zmc_sat_add(int64_t a, int64_t b) {
  int64_t r;
  if (!__builtin_add_overflow(a, b, &r))
    return r;
  return b > 0 ? INT64_MAX : INT64_MIN;
}

static int64_t clamp(__int128 v) {
  return v > INT64_MAX ? INT64_MAX : v < INT64_MIN ? INT64_MIN : (int64_t)v;
}

int64_t zmc_own_live(const zmc_proc *p) {
  __int128 v = (__int128)p->live_requested - p->base_requested;
  return v > 0 ? clamp(v) : 0;
}

int64_t zmc_own_blocks(const zmc_proc *p) {
  __int128 v = (__int128)p->live_blocks - p->base_blocks;
  return v > 0 ? clamp(v) : 0;
}

/* The peak of the sum over processes, from the timeline: at each sample
 * time, the latest figure of every process still alive then. */
static void sum_peak(zmc_run *run) {
  int64_t *req = calloc(run->nprocs ? run->nprocs : 1, sizeof *req);
  int64_t *held = calloc(run->nprocs ? run->nprocs : 1, sizeof *held);
  __int128 sq = 0, sh = 0; /* samples are raw reads: no overflow */
  if (!req || !held) {
    free(req);
    free(held);
    return;
  }
  for (size_t k = 0; k < run->nsamples; k++) {
    const zmc_sample *s = &run->samples[k];
    if (s->proc >= run->nprocs || run->procs[s->proc].untrusted[0])
      continue;
    /* A process that ended holds nothing any more. */
    for (uint32_t i = 0; i < run->nprocs; i++) {
      const zmc_proc *p = &run->procs[i];
      if (p->end_s > 0 && p->end_s < s->t && (req[i] || held[i])) {
        sq -= req[i], sh -= held[i];
        req[i] = held[i] = 0;
      }
    }
    sq += (__int128)s->requested - req[s->proc];
    sh += (__int128)s->held - held[s->proc];
    req[s->proc] = s->requested;
    held[s->proc] = s->held;
    if (sq > run->sum_peak_requested)
      run->sum_peak_requested = clamp(sq);
    if (sh > run->sum_peak_held)
      run->sum_peak_held = clamp(sh);
  }
  free(req);
  free(held);
}

/* What zmem could not see, over the processes whose figures hold up. */
static void unseen(zmc_run *run) {
  for (uint32_t i = 0; i < run->nprocs; i++) {
    const zmc_proc *p = &run->procs[i];
    run->untrusted += p->untrusted[0] != 0;
    if (p->untrusted[0])
      continue;
    run->unseen_frees += p->unseen_frees;
    run->sharers += p->sharers;
  }
}

void zmc_summarize(zmc_run *run) {
  unseen(run);
  if (run->record_lost)
    run->rss_peak = run->launcher_rss_peak;
  for (uint32_t i = 0; i < run->nprocs; i++) {
    const zmc_proc *p = &run->procs[i];
    if (p->untrusted[0])
      continue; /* its figures would poison the sums */
    run->total_requested += p->total_requested;
    run->allocations += p->allocations;
    run->frees += p->calls[ZMR_FREE];
    run->leaked_requested = zmc_sat_add(run->leaked_requested, zmc_own_live(p));
    run->leaked_blocks = zmc_sat_add(run->leaked_blocks, zmc_own_blocks(p));
    if (p->rss_peak > run->rss_peak)
      run->rss_peak = p->rss_peak;
    if (p->table_peak > run->table_peak)
      run->table_peak = p->table_peak;
  }
  sum_peak(run);
  /* Each process's own peak is exact; the sampled sum can miss a peak that
   * lasted less than an interval. */
  for (uint32_t i = 0; i < run->nprocs; i++) {
    if (run->procs[i].untrusted[0])
      continue;
    if (run->procs[i].peak_requested > run->sum_peak_requested)
      run->sum_peak_requested = run->procs[i].peak_requested;
    if (run->procs[i].peak_held > run->sum_peak_held)
      run->sum_peak_held = run->procs[i].peak_held;
  }
}

const char *zmc_human(char *buf, size_t cap, double b) {
  static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  double v = b < 0 ? -b : b;
  while (v >= 1024 && u < 5)
    v /= 1024, u++;
  if (u == 0)
    snprintf(buf, cap, "%s%.0f B", b < 0 ? "-" : "", v);
  else
    snprintf(buf, cap, "%s%.1f %s", b < 0 ? "-" : "", v, units[u]);
  return buf;
}

/* A non-negative decimal number at the start of s, no sign or blank in
 * front; *end is where it stops. */
static bool leading_number(const char *s, double *v, char **end) {
  if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
    return false;
  *v = strtod(s, end);
  return *end != s && isfinite(*v) && *v >= 0;
}

bool zmc_parse_size(const char *s, uint64_t *out) {
  char *end;
  double v;
  if (!leading_number(s, &v, &end))
    return false;
  double mul = 1;
  switch (*end) {
  case 'k': case 'K': mul = 1024.0; end++; break;
  case 'm': case 'M': mul = 1024.0 * 1024; end++; break;
  case 'g': case 'G': mul = 1024.0 * 1024 * 1024; end++; break;
  case 't': case 'T': mul = 1024.0 * 1024 * 1024 * 1024; end++; break;
  default: break;
  }
  if (mul > 1 && *end == 'i')
    end++;
  if (*end == 'B' || (*end == 'b' && mul == 1 && end[1] == 0))
    end++;
  if (*end)
    return false;
  v *= mul;
  if (v >= 1.8e19)
    return false;
  *out = (uint64_t)v;
  return true;
}

bool zmc_parse_pct(const char *s, double *out) {
  char *end;
  double v;
  if (!leading_number(s, &v, &end))
    return false;
  if (*end == '%')
    end++;
  if (*end)
    return false;
  *out = v;
  return true;
}

/* Indexes of the n processes with the largest peaks, in record order. */
uint32_t zmc_top(const zmc_run *run, uint32_t *pick, uint32_t n) {
  if (run->nprocs <= n) {
    for (uint32_t i = 0; i < run->nprocs; i++)
      pick[i] = i;
    return run->nprocs;
  }
  bool taken[ZMR_MAX_PROCS] = {false};
  for (uint32_t k = 0; k < n; k++) {
    uint32_t best = UINT32_MAX;
    for (uint32_t i = 0; i < run->nprocs; i++)
      if (!taken[i] && (best == UINT32_MAX ||
                        run->procs[i].peak_requested > run->procs[best].peak_requested))
        best = i;
    taken[best] = true;
  }
  uint32_t m = 0;
  for (uint32_t i = 0; i < run->nprocs; i++)
    if (taken[i])
      pick[m++] = i;
  return m;
}

