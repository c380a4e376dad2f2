/* `zmem diff`: the comparison (see diff.h) and the command. The outputs
 * are in diff_out.c. */
#include "diff.h"

#include "args.h"
#include "baseline.h"
#include "diff_out.h"
#include "profile.h"
#include "report_load.h"
#include "sites_run.h"
#include "subcmd.h"
#include "summary.h"

#include <stdlib.h>
#include <string.h>

static const char *const fig_words[ZMC_DF_N] = {"heap peak", "total allocated",
                                                "live at exit"};
static const char *const fig_names[ZMC_DF_N] = {"peak", "total", "leaked"};
static const int site_fig[ZMC_DF_N] = {ZM__PV_PEAK_BYTES, ZM__PV_ALLOC_BYTES,
                                       ZM__PV_LIVE_BYTES};

const char *zmc_diff_fig_words(int k) { return fig_words[k]; }
const char *zmc_diff_fig_name(int k) { return fig_names[k]; }

/* ---------------------------------------------------------------- sites */

/* A site of one run: its key and figures (state: which run). */
static int key_cmp(const zmc_diff_site *a, const zmc_diff_site *b) {
  size_t n = a->keylen < b->keylen ? a->keylen : b->keylen;
  int c = memcmp(a->key, b->key, n);
  return c ? c : (a->keylen > b->keylen) - (a->keylen < b->keylen);
}

static int by_key(const void *a, const void *b) { return key_cmp(a, b); }

/* The names of a stack's frames, innermost first, each ending in '\0'. */
static char *stack_key(const zm__prof *p, const zm__prof_stack *s, size_t *len) {
  uint32_t n = s->depth ? s->depth : 1;
  size_t total = 0;
  for (uint32_t d = 0; d < n; d++)
    total += strlen(p->locs[s->loc[d]].name) + 1;
  char *k = malloc(total ? total : 1), *at = k;
  for (uint32_t d = 0; k && d < n; d++) {
    size_t w = strlen(p->locs[s->loc[d]].name) + 1;
    memcpy(at, p->locs[s->loc[d]].name, w);
    at += w;
  }
  *len = total;
  return k;
}

/* The sites of profile p of run side (0 old, 1 new), appended to *out,
 * one per stack. */
static bool side_sites(const zm__prof *p, int side, zmc_diff_site **out, uint32_t *n,
                       uint32_t *cap) {
  for (uint32_t i = 0; p && i < p->nstacks; i++) {
    if (*n == *cap) {
      uint32_t c = *cap ? *cap * 2 : 64;
      zmc_diff_site *s = realloc(*out, c * sizeof *s);
      if (!s)
        return false;
      *out = s, *cap = c;
    }
    zmc_diff_site *d = &(*out)[*n];
    memset(d, 0, sizeof *d);
    if (!(d->key = stack_key(p, &p->stacks[i], &d->keylen)))
      return false;
    (*n)++;
    d->nframes = p->stacks[i].depth ? p->stacks[i].depth : 1;
    d->state = side ? ZMC_DS_NEW : ZMC_DS_GONE;
    for (int k = 0; k < ZMC_DF_N; k++)
      d->v[side][k] = p->stacks[i].v[site_fig[k]];
  }
  return true;
}

/* Sorted by key, equal keys folded into one: a site in both runs, or the
 * same frames reached twice (call sites that differ only by address). */
static uint32_t fold(zmc_diff_site *s, uint32_t n) {
  if (n == 0)
    return 0; /* s may be NULL, which qsort must not get */
  qsort(s, n, sizeof *s, by_key);
  uint32_t w = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (w && !key_cmp(&s[w - 1], &s[i])) {
      zmc_diff_site *d = &s[w - 1];
      if (d->state != s[i].state)
        d->state = ZMC_DS_BOTH;
      for (int k = 0; k < ZMC_DF_N; k++) {
        d->v[0][k] = zmc_sat_add(d->v[0][k], s[i].v[0][k]);
        d->v[1][k] = zmc_sat_add(d->v[1][k], s[i].v[1][k]);
      }
      free(s[i].key);
    } else {
      s[w++] = s[i];
    }
  }
  return w;
}

/* ------------------------------------------------------------- ordering */

static int sort_by; /* qsort has no argument */

static int64_t delta(const int64_t v[2][ZMC_DF_N], int k) {
  return zmc_sat_add(v[1][k], v[0][k] == INT64_MIN ? INT64_MAX : -v[0][k]);
}

/* Larger growth first: the chosen figure, then the others in order. */
static int growth_cmp(const int64_t a[2][ZMC_DF_N], const int64_t b[2][ZMC_DF_N]) {
  int order[ZMC_DF_N] = {sort_by, sort_by ? 0 : 1, sort_by == 2 ? 1 : 2};
  for (int i = 0; i < ZMC_DF_N; i++) {
    int64_t x = delta(a, order[i]), y = delta(b, order[i]);
    if (x != y)
      return x > y ? -1 : 1;
  }
  return 0;
}

static int site_growth(const void *a, const void *b) {
  const zmc_diff_site *x = a, *y = b;
  int c = growth_cmp((const int64_t(*)[ZMC_DF_N])x->v, (const int64_t(*)[ZMC_DF_N])y->v);
  return c ? c : key_cmp(x, y);
}

/* Ties in the order of the new run, then of the old one. */
static uint64_t run_order(const zmc_diff_proc *d) {
  return d->p[1] ? d->p[1]->index : ((uint64_t)1 << 32) + d->p[0]->index;
}

static int proc_growth(const void *a, const void *b) {
  const zmc_diff_proc *x = a, *y = b;
  int c = growth_cmp((const int64_t(*)[ZMC_DF_N])x->v, (const int64_t(*)[ZMC_DF_N])y->v);
  return c ? c : (run_order(x) > run_order(y)) - (run_order(x) < run_order(y));
}

/* ------------------------------------------------------------ processes */

static void proc_figures(zmc_diff_proc *d, int side) {
  const zmc_proc *p = d->p[side];
  if (!p)
    return;
  d->v[side][ZMC_DF_PEAK] = p->peak_requested;
  d->v[side][ZMC_DF_TOTAL] = p->total_requested > INT64_MAX ? INT64_MAX
                                                            : (int64_t)p->total_requested;
  d->v[side][ZMC_DF_LEAKED] = zmc_own_live(p);
}

static bool proc_sites(zmc_diff *df, zmc_diff_proc *d) {
  uint32_t n = 0, cap = 0;
  zmc_diff_site *s = NULL;
  bool ok = true;
  for (int side = 0; side < 2 && ok; side++) {
    const char *why;
    const zm__prof *p = d->p[side] ? zmc_sites_proc(&df->run[side],
                                                    d->p[side]->index, &why) : NULL;
    d->sited |= p != NULL;
    ok = side_sites(p, side, &s, &n, &cap);
  }
  if (!ok) {
    for (uint32_t i = 0; i < n; i++)
      free(s[i].key);
    free(s);
    return false;
  }
  d->nsites = fold(s, n);
  d->sites = s;
  if (d->nsites)
    qsort(d->sites, d->nsites, sizeof *d->sites, site_growth);
  return true;
}

/* The program of a command: its first word. */
static bool same_program(const char *a, const char *b) {
  size_t n = strcspn(a, " ");
  return n == strcspn(b, " ") && !memcmp(a, b, n);
}

/* Pairs each process of the new run with the first unpaired process of
 * the old run that has its command (the nth `cc1 x.c` with the nth), then
 * the rest by program alone (arguments that changed between the runs). */
static void pair(zmc_diff *df, bool *taken, bool whole) {
  for (uint32_t j = 0; j < df->nprocs; j++) {
    zmc_diff_proc *d = &df->procs[j];
    for (uint32_t i = 0; i < df->run[0].nprocs && d->state == ZMC_DS_NEW; i++) {
      const char *a = df->run[0].procs[i].command, *b = d->p[1]->command;
      if (!taken[i] && (whole ? !strcmp(a, b) : same_program(a, b))) {
        taken[i] = true;
        d->p[0] = &df->run[0].procs[i];
        d->state = ZMC_DS_BOTH;
      }
    }
  }
}

static bool match(zmc_diff *df) {
  uint32_t n0 = df->run[0].nprocs, n1 = df->run[1].nprocs;
  bool *taken = calloc(n0 ? n0 : 1, sizeof *taken);
  df->procs = calloc(n0 + n1 ? n0 + n1 : 1, sizeof *df->procs);
  if (!taken || !df->procs) {
    free(taken);
    return false;
  }
  for (uint32_t j = 0; j < n1; j++)
    df->procs[df->nprocs++] = (zmc_diff_proc){{NULL, &df->run[1].procs[j]}, ZMC_DS_NEW,
                                              {{0}}, NULL, 0, false};
  pair(df, taken, true);
  pair(df, taken, false);
  for (uint32_t i = 0; i < n0; i++)
    if (!taken[i])
      df->procs[df->nprocs++] = (zmc_diff_proc){{&df->run[0].procs[i], NULL}, ZMC_DS_GONE,
                                                {{0}}, NULL, 0, false};
  free(taken);
  return true;
}

static bool compare(zmc_diff *df) {
  for (int side = 0; side < 2; side++) {
    df->v[side][ZMC_DF_PEAK] = df->run[side].sum_peak_requested;
    df->v[side][ZMC_DF_TOTAL] = df->run[side].total_requested > INT64_MAX
                                    ? INT64_MAX : (int64_t)df->run[side].total_requested;
    df->v[side][ZMC_DF_LEAKED] = df->run[side].leaked_requested;
  }
  if (!match(df))
    return false;
  for (uint32_t i = 0; i < df->nprocs; i++) {
    proc_figures(&df->procs[i], 0);
    proc_figures(&df->procs[i], 1);
    if (!proc_sites(df, &df->procs[i]))
      return false;
  }
  sort_by = df->by;
  qsort(df->procs, df->nprocs, sizeof *df->procs, proc_growth);
  return true;
}

static void diff_free(zmc_diff *df) {
  for (uint32_t i = 0; i < df->nprocs; i++) {
    for (uint32_t k = 0; k < df->procs[i].nsites; k++)
      free(df->procs[i].sites[k].key);
    free(df->procs[i].sites);
  }
  free(df->procs);
  zmc_report_free(&df->run[0]);
  zmc_report_free(&df->run[1]);
}

/* ---------------------------------------------------------------- gates */

typedef struct options {
  const char *out[ZMC_DO_N];
  bool gate;
  int gate_fig;
  double max_increase;
  int by;
} options;

static int parse_figure(const char *v, int *fig) {
  for (int k = 0; k < ZMC_DF_N; k++)
    if (!strcmp(v, fig_names[k]))
      return *fig = k, 0;
  return -1;
}

/* --max-increase [FIGURE:]PCT */
static int parse_increase(options *op, const char *v) {
  const char *colon = strchr(v, ':');
  char name[16];
  op->gate_fig = ZMC_DF_PEAK;
  if (colon) {
    snprintf(name, sizeof name, "%.*s", (int)(colon - v < 15 ? colon - v : 15), v);
    if (parse_figure(name, &op->gate_fig) != 0)
      return zmc_usage_error("diff", "--max-increase: the figure is peak, total or "
                             "leaked, not '%s'", name);
  }
  if (!zmc_parse_pct(colon ? colon + 1 : v, &op->max_increase))
    return zmc_usage_error("diff", "--max-increase wants [peak|total|leaked:]PCT such as 5 "
                           "or total:2.5%%, not '%s'", v);
  op->gate = true;
  return 0;
}

static const char *const valued[] = {"--output", "--json", "--pprof", "--html",
                                     "--max-increase", "--by", NULL};

static int set_option(const char *a, const char *v, void *arg) {
  options *op = arg;
  if (zmc_is_opt(a, "--max-increase"))
    return parse_increase(op, v);
  if (zmc_is_opt(a, "--by")) {
    if (parse_figure(v, &op->by) != 0)
      return zmc_usage_error("diff", "--by wants peak, total or leaked, not '%s'", v);
    return 0;
  }
  for (int k = 0; k < ZMC_DO_N; k++)
    if (zmc_is_opt(a, valued[k]))
      op->out[k] = v;
  return 0;
}

void zmc_diff_usage(FILE *f) {
  fprintf(f,
          "usage: zmem diff [options] OLD.json NEW.json\n"
          "Compares two reports saved by `zmem run --json`: run-wide, per process\n"
          "(matched by command) and per allocation site (matched by function names),\n"
          "sorted by growth; new and vanished processes and sites are named (stdout).\n"
          "  --by peak|total|leaked   the figure to sort by (default peak)\n"
          "  --output FILE            the text to FILE instead of stdout\n"
          "  --quiet                  no text\n"
          "  --json FILE              the whole comparison as JSON (zmem-diff(1))\n"
          "  --pprof F.pb.gz          the sites' change as one profile (new minus old)\n"
          "  --html FILE.html         the text as one page, changes coloured, the JSON inside\n"
          "  --max-increase [FIGURE:]PCT  exit 99 when the run-wide figure (peak, the\n"
          "                           default, total or leaked) grew by more than PCT\n"
          "Exit status: 0; 99 when the gate tripped; 2 for a bad command line or a file\n"
          "that is not a zmem run report; 125 when an output cannot be written.\n"
          "See zmem-diff(1).\n");
}

static int load(zmc_diff *df, const char *const *files) {
  char err[512];
  for (int side = 0; side < 2; side++) {
    df->path[side] = files[side];
    if (zmc_report_load(files[side], &df->run[side], err, sizeof err) != 0) {
      fprintf(stderr, "zmem: %s: %s\n", files[side], err);
      return ZMC_EXIT_USAGE;
    }
  }
  if (!compare(df)) {
    fprintf(stderr, "zmem: diff: out of memory\n");
    return 125;
  }
  return 0;
}

static int gate(const options *op, const zmc_diff *df) {
  int64_t now = df->v[1][op->gate_fig], base = df->v[0][op->gate_fig];
  bool tripped = zmc_gate_increase(zmc_diff_fig_words(op->gate_fig),
                                   now > 0 ? (uint64_t)now : 0, base > 0 ? (uint64_t)base : 0,
                                   df->path[0], op->max_increase);
  if (tripped)
    fprintf(stderr, "zmem: the processes and sites that grew are listed first in the diff\n");
  return tripped ? 99 : 0;
}

int zmc_diff_main(int argc, char **argv) {
  options op = {{NULL}, false, ZMC_DF_PEAK, 0, ZMC_DF_PEAK};
  static const char *const flag_names[] = {"--quiet", "-q", NULL};
  bool flags[2] = {false, false};
  const char *files[2];
  int nfiles, r = zmc_subcmd_parse("diff", argc, argv, valued, set_option, &op, flag_names,
                                   flags, files, 2, &nfiles);
  if (r < 0)
    zmc_diff_usage(stdout);
  if (r)
    return r < 0 ? 0 : r;
  if (nfiles != 2)
    return zmc_usage_error("diff", "%s", "two reports wanted: zmem diff [options] OLD.json "
                           "NEW.json");
  static zmc_diff df;
  memset(&df, 0, sizeof df);
  df.by = op.by;
  r = load(&df, files);
  if (!r && zmc_diff_render(&df, op.out, flags[0] || flags[1]) != 0)
    r = 125;
  if (!r && op.gate)
    r = gate(&op, &df);
  diff_free(&df);
  return r;
}
