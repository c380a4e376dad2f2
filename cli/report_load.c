/* A saved --json report read back into the model: see report_load.h. The
 * members are those cli/json.c writes (docs/run.md, "JSON"). */
#define _GNU_SOURCE
#include "report_load.h"

#include "sites_json.h"
#include "sites_run.h"
#include "unprofiled.h"

#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct loader {
  char *err;
  size_t errlen;
  const char *where; /* "summary", "processes[3]" */
} loader;

static bool fail(loader *l, const char *what, const char *key) {
  if (!l->err[0])
    snprintf(l->err, l->errlen, "%s%s%s: %s", l->where, *l->where ? "." : "", key, what);
  return false;
}

static bool u64(loader *l, const zmc_jv *o, const char *key, uint64_t *out) {
  return zmc_json_u64(zmc_json_get(o, key), out) ||
         fail(l, "missing, or not an integer from 0", key);
}

static bool i64(loader *l, const zmc_jv *o, const char *key, int64_t *out) {
  return zmc_json_i64(zmc_json_get(o, key), out) || fail(l, "missing, or not an integer", key);
}

static bool f64(loader *l, const zmc_jv *o, const char *key, double *out) {
  return zmc_json_f64(zmc_json_get(o, key), out) || fail(l, "missing, or not a number", key);
}

/* An integer member into an int, within [lo, hi]. */
static bool small(loader *l, const zmc_jv *o, const char *key, int64_t lo, int64_t hi,
                  int *out) {
  int64_t v;
  if (!i64(l, o, key, &v))
    return false;
  if (v < lo || v > hi)
    return fail(l, "out of range", key);
  *out = (int)v;
  return true;
}

static bool u32(loader *l, const zmc_jv *o, const char *key, uint32_t *out) {
  uint64_t v;
  if (!u64(l, o, key, &v))
    return false;
  if (v > UINT32_MAX)
    return fail(l, "out of range", key);
  *out = (uint32_t)v;
  return true;
}

/* A string, or null (*out NULL) when nullable. */
static bool str(loader *l, const zmc_jv *o, const char *key, bool nullable,
                const char **out) {
  const zmc_jv *v = zmc_json_get(o, key);
  *out = v && v->kind == ZMC_J_STR ? v->str : NULL;
  return *out || (nullable && v && v->kind == ZMC_J_NULL) ||
         fail(l, nullable ? "missing, or neither a string nor null" : "missing, or not a "
              "string", key);
}

static const zmc_jv *member(loader *l, const zmc_jv *o, const char *key, int kind) {
  const zmc_jv *v = zmc_json_get(o, key);
  if (!v || v->kind != kind)
    fail(l, kind == ZMC_J_OBJ ? "missing, or not an object" : "missing, or not an array",
         key);
  return v && v->kind == kind ? v : NULL;
}

/* ------------------------------------------------------------ processes */

typedef struct field {
  const char *key;
  size_t offset;
  bool is_signed;
} field;

#define U(k, m) {k, offsetof(zmc_proc, m), false}
#define S(k, m) {k, offsetof(zmc_proc, m), true}
static const field proc_fields[] = {
    S("peak_requested_bytes", peak_requested), S("peak_held_bytes", peak_held),
    U("rss_peak_bytes", rss_peak), U("zmem_table_peak_bytes", table_peak),
    U("total_requested_bytes", total_requested), U("total_held_bytes", total_held),
    U("allocations", allocations), S("live_requested_bytes", live_requested),
    S("live_held_bytes", live_held), S("live_blocks", live_blocks),
    S("inherited_requested_bytes", base_requested), S("inherited_held_bytes", base_held),
    S("inherited_blocks", base_blocks), U("unseen_frees", unseen_frees),
    {NULL, 0, false}};

static bool figures(loader *l, const zmc_jv *o, zmc_proc *p) {
  if (!u32(l, o, "threads", &p->threads) || !u32(l, o, "sharers", &p->sharers))
    return false;
  for (const field *f = proc_fields; f->key; f++) {
    char *at = (char *)p + f->offset;
    uint64_t u;
    int64_t s;
    if (f->is_signed ? !i64(l, o, f->key, &s) : !u64(l, o, f->key, &u))
      return false;
    if (f->is_signed)
      memcpy(at, &s, sizeof s);
    else
      memcpy(at, &u, sizeof u);
  }
  return true;
}

static bool status(loader *l, const zmc_jv *o, zmc_proc *p) {
  const zmc_jv *s = member(l, o, "status", ZMC_J_OBJ);
  const char *kind;
  if (!s || !str(l, s, "kind", false, &kind))
    return false;
  p->state = ZMR_STATE_EXITED;
  if (!strcmp(kind, "exec"))
    p->state = ZMR_STATE_EXECED;
  else if (!strcmp(kind, "signal"))
    p->exit_known = small(l, s, "signal", 1, 64, &p->signal) &&
                    small(l, s, "exit_status", 0, 255, &p->exit_status);
  else if (!strcmp(kind, "exit"))
    p->exit_known = small(l, s, "exit_status", 0, 255, &p->exit_status);
  else if (!strcmp(kind, "unknown"))
    p->state = ZMR_STATE_RUNNING;
  else
    return fail(l, "not exec, signal, exit or unknown", "status.kind");
  return !l->err[0];
}

static bool functions(loader *l, const zmc_jv *o, zmc_proc *p) {
  const zmc_jv *fns = member(l, o, "functions", ZMC_J_OBJ);
  for (int k = 0; fns && k < ZMR_NFN; k++) {
    const zmc_jv *f = member(l, fns, zmc_fn_names[k], ZMC_J_OBJ);
    if (!f || !u64(l, f, "calls", &p->calls[k]) || !u64(l, f, "bytes", &p->bytes[k]) ||
        !u64(l, f, "failures", &p->failures[k]))
      return false;
  }
  return fns != NULL;
}

/* Buckets are written as {min, max, count}: min 0 is bucket 0, 2^(b-1)
 * bucket b. */
static bool histogram(loader *l, const zmc_jv *o, zmc_proc *p) {
  const zmc_jv *h = member(l, o, "histogram", ZMC_J_ARR);
  for (uint32_t i = 0; h && i < h->n; i++) {
    uint64_t min, count;
    if (!u64(l, &h->v[i], "min", &min) || !u64(l, &h->v[i], "count", &count))
      return false;
    int b = min ? 64 - __builtin_clzll(min) : 0;
    if ((min & (min - 1)) || b >= ZMR_HIST_BUCKETS)
      return fail(l, "a bucket's min is not 0 or a power of 2", "histogram");
    p->hist[b] = count;
  }
  return h != NULL;
}

static bool realloc_and_fault(loader *l, const zmc_jv *o, zmc_proc *p, bool fault) {
  const zmc_jv *r = member(l, o, "realloc", ZMC_J_OBJ), *f;
  if (!r || !u64(l, r, "in_place", &p->realloc_in_place) ||
      !u64(l, r, "moved", &p->realloc_moved) || !u64(l, r, "shrunk", &p->realloc_shrunk))
    return false;
  if (!fault)
    return true;
  const char *site;
  if (!(f = member(l, o, "fault", ZMC_J_OBJ)) || !u64(l, f, "injected", &p->fault_hits) ||
      !u64(l, f, "first_request", &p->fault_first) || !str(l, f, "site", true, &site))
    return false;
  snprintf(p->fault_site, sizeof p->fault_site, "%s", site ? site : "");
  return true;
}

static bool timeline(loader *l, const zmc_jv *o, zmc_run *run, uint32_t proc) {
  const zmc_jv *tl = member(l, o, "timeline", ZMC_J_ARR);
  for (uint32_t i = 0; tl && i < tl->n; i++) {
    const zmc_jv *s = &tl->v[i];
    double t;
    int64_t req, held;
    uint64_t rss = 0; /* reports before RSS was sampled have 3 members */
    if (s->kind != ZMC_J_ARR || s->n < 3 || s->n > 4 || !zmc_json_f64(&s->v[0], &t) ||
        !zmc_json_i64(&s->v[1], &req) || !zmc_json_i64(&s->v[2], &held) ||
        (s->n == 4 && !zmc_json_u64(&s->v[3], &rss)))
      return fail(l, "a sample is not [seconds, requested, held, RSS]", "timeline");
    if (!zmc_add_sample(run, (zmc_sample){t, proc, req, held, rss}))
      return fail(l, "out of memory", "timeline");
  }
  return tl != NULL;
}

/* ------------------------- what the launcher saw: RSS, OOM, unprofiled */

/* The members below are optional: reports of runs before they were written
 * lack them, and read back as runs without those findings. */

static bool flag(loader *l, const zmc_jv *o, const char *key, bool *out) {
  const zmc_jv *v = zmc_json_get(o, key);
  if (v && v->kind != ZMC_J_BOOL)
    return fail(l, "not true or false", key);
  *out = v && v->b;
  return true;
}

typedef struct part {
  const char *key;
  size_t offset;
} part;

#define P(k, m) {k, offsetof(zmc_heap_rss, m)}
static const part heap_rss_parts[] = {
    P("rss_bytes", rss), P("requested_bytes", requested), P("held_bytes", held),
    P("retained_bytes", retained), P("anon_outside_malloc_bytes", anon_outside),
    P("stacks_bytes", stacks), P("file_bytes", file), P("unexplained_bytes", unexplained),
    {NULL, 0}};

/* One moment of heap_vs_rss: null (not known) or its parts; a part not
 * readable then is null (-1 in the model), unexplained never is. */
static bool moment(loader *l, const zmc_jv *hr, const char *key, zmc_heap_rss *h) {
  const zmc_jv *m = zmc_json_get(hr, key);
  const char *source;
  if (m && m->kind == ZMC_J_NULL)
    return true;
  if (!m || m->kind != ZMC_J_OBJ)
    return fail(l, "missing, or not null or an object", key);
  const char *outer = l->where;
  char where[80];
  snprintf(where, sizeof where, "%s.heap_vs_rss.%s", outer, key);
  l->where = where;
  bool ok = f64(l, m, "t_s", &h->t) && str(l, m, "source", false, &source);
  for (const part *pt = heap_rss_parts; ok && pt->key; pt++) {
    const zmc_jv *v = zmc_json_get(m, pt->key);
    int64_t x = -1;
    if (!v || v->kind != ZMC_J_NULL || !strcmp(pt->key, "unexplained_bytes"))
      ok = i64(l, m, pt->key, &x);
    memcpy((char *)h + pt->offset, &x, sizeof x);
  }
  l->where = outer;
  h->known = ok;
  h->in_process = ok && !strcmp(source, "process");
  return ok;
}

static bool heap_vs_rss(loader *l, const zmc_jv *o, zmc_proc *p) {
  const zmc_jv *hr = zmc_json_get(o, "heap_vs_rss");
  if (!hr)
    return true;
  if (hr->kind != ZMC_J_OBJ)
    return fail(l, "not an object", "heap_vs_rss");
  return moment(l, hr, "at_rss_peak", &p->at_rss_peak) && moment(l, hr, "at_end", &p->at_end);
}

/* not_profiled holds the row's words (zmc_left_words): back to the reason. */
static bool not_profiled(loader *l, const zmc_jv *o, zmc_proc *p) {
  const zmc_jv *v = zmc_json_get(o, "not_profiled");
  if (!v || v->kind == ZMC_J_NULL)
    return true;
  if (v->kind != ZMC_J_STR)
    return fail(l, "not null or a string", "not_profiled");
  for (p->left = ZMC_LEFT_STATIC; p->left <= ZMC_LEFT_RUNNING; p->left++)
    if (!strcmp(zmc_left_words(p), v->str))
      return true;
  p->left = 0;
  return fail(l, "not one of the reasons zmem writes", "not_profiled");
}

/* bypass holds the rows' words (zmc_bypass_words): back to the bits. */
static bool bypass(loader *l, const zmc_jv *o, zmc_proc *p) {
  const zmc_jv *b = zmc_json_get(o, "bypass");
  if (!b)
    return true;
  if (b->kind != ZMC_J_ARR)
    return fail(l, "not an array", "bypass");
  for (uint32_t i = 0; i < b->n; i++) {
    uint32_t bit = 1;
    while (bit <= ZMR_BYPASS_KNOWN && (b->v[i].kind != ZMC_J_STR ||
                                       strcmp(zmc_bypass_words(bit), b->v[i].str)))
      bit <<= 1;
    if (bit > ZMR_BYPASS_KNOWN)
      return fail(l, "an entry is not one of the lines zmem writes", "bypass");
    p->bypass |= bit;
  }
  return true;
}

static bool launcher_saw(loader *l, const zmc_jv *o, zmc_proc *p) {
  return flag(l, o, "rss_peak_includes_children", &p->rss_with_children) &&
         flag(l, o, "oom_killed", &p->oom_killed) && heap_vs_rss(l, o, p) &&
         not_profiled(l, o, p) && bypass(l, o, p);
}

static bool identity(loader *l, const zmc_jv *o, zmc_proc *p, uint32_t nprocs) {
  const zmc_jv *parent = zmc_json_get(o, "parent_index");
  const char *origin, *cmd, *untrusted;
  uint64_t pi = UINT32_MAX;
  if (!small(l, o, "pid", INT32_MIN, INT32_MAX, &p->pid) ||
      !small(l, o, "ppid", INT32_MIN, INT32_MAX, &p->ppid) ||
      !str(l, o, "origin", false, &origin) || !str(l, o, "command", false, &cmd) ||
      !str(l, o, "untrusted", true, &untrusted) || !f64(l, o, "start_s", &p->start_s) ||
      !f64(l, o, "end_s", &p->end_s))
    return false;
  if (!parent || (parent->kind != ZMC_J_NULL && (!zmc_json_u64(parent, &pi) || pi >= nprocs)))
    return fail(l, "missing, or not null or a process's index", "parent_index");
  p->parent_index = (uint32_t)pi;
  p->origin = !strcmp(origin, "first") ? ZMR_ORIGIN_FIRST
              : !strcmp(origin, "exec") ? ZMR_ORIGIN_EXEC : ZMR_ORIGIN_FORK;
  snprintf(p->command, sizeof p->command, "%s", cmd);
  snprintf(p->untrusted, sizeof p->untrusted, "%s", untrusted ? untrusted : "");
  return true;
}

static bool process(loader *l, const zmc_jv *o, zmc_run *run, uint32_t i, bool fault) {
  char where[32];
  snprintf(where, sizeof where, "processes[%u]", i);
  l->where = where;
  zmc_proc *p = &run->procs[i];
  p->index = i; /* the samples' proc: a position in run->procs */
  if (o->kind != ZMC_J_OBJ)
    return fail(l, "not an object", "");
  bool ok = identity(l, o, p, run->nprocs) && status(l, o, p) && figures(l, o, p) &&
            realloc_and_fault(l, o, p, fault) && functions(l, o, p) &&
            histogram(l, o, p) && launcher_saw(l, o, p) && timeline(l, o, run, i);
  l->where = "";
  return ok;
}

/* ------------------------------------------------------------- run-wide */

static bool command(loader *l, const zmc_jv *root, zmc_run *run) {
  const zmc_jv *c = member(l, root, "command", ZMC_J_ARR);
  if (!c)
    return false;
  char **argv = calloc(c->n + 1, sizeof *argv);
  if (!argv)
    return fail(l, "out of memory", "command");
  run->argv = argv;
  for (uint32_t i = 0; i < c->n; i++) {
    if (c->v[i].kind != ZMC_J_STR)
      return fail(l, "an argument is not a string", "command");
    if (!(argv[i] = strdup(c->v[i].str)))
      return fail(l, "out of memory", "command");
    run->argc = (int)i + 1;
  }
  return true;
}

static bool zmem_signal(loader *l, const zmc_jv *root, zmc_run *run) {
  const zmc_jv *s = zmc_json_get(root, "zmem_signal"), *k;
  if (!s || s->kind == ZMC_J_NULL)
    return true; /* absent in reports of runs before signals were reported */
  if (s->kind != ZMC_J_OBJ || !small(l, s, "signal", 1, 64, &run->stop_signal))
    return fail(l, "not null or an object with a signal", "zmem_signal");
  if (!(k = zmc_json_get(s, "kill")) || k->kind == ZMC_J_NULL)
    return true;
  const char *why;
  l->where = "zmem_signal.kill";
  bool ok = str(l, k, "why", false, &why) && small(l, k, "signal", 0, 64, &run->kill_signal) &&
            u32(l, k, "processes", &run->killed_procs);
  run->kill_reason = ok && !strcmp(why, "grace period") ? ZMC_KILL_GRACE
                                                         : ZMC_KILL_SECOND_SIGNAL;
  l->where = "";
  return ok;
}

static bool summary(loader *l, const zmc_jv *root, zmc_run *run) {
  const zmc_jv *s = member(l, root, "summary", ZMC_J_OBJ);
  l->where = "summary";
  bool ok = s && i64(l, s, "peak_requested_bytes", &run->sum_peak_requested) &&
            i64(l, s, "peak_held_bytes", &run->sum_peak_held) &&
            u64(l, s, "rss_peak_bytes", &run->rss_peak) &&
            u64(l, s, "zmem_table_peak_bytes", &run->table_peak) &&
            u64(l, s, "total_requested_bytes", &run->total_requested) &&
            u64(l, s, "allocations", &run->allocations) && u64(l, s, "frees", &run->frees) &&
            i64(l, s, "leaked_requested_bytes", &run->leaked_requested) &&
            i64(l, s, "leaked_blocks", &run->leaked_blocks) &&
            u32(l, s, "processes_not_recorded", &run->lost_procs) &&
            u32(l, s, "processes_untrusted", &run->untrusted) &&
            u64(l, s, "processes_reattached", &run->reattached) &&
            u32(l, s, "processes_sharing_record", &run->sharers) &&
            u64(l, s, "unseen_frees", &run->unseen_frees);
  l->where = "";
  return ok;
}

static bool header(loader *l, const zmc_jv *root, zmc_run *run) {
  const zmc_jv *format = zmc_json_get(root, "format"), *ch;
  uint64_t schema;
  if (root->kind != ZMC_J_OBJ || !format || format->kind != ZMC_J_STR ||
      strcmp(format->str, "zmem-run"))
    return fail(l, "not a zmem run report (no \"format\": \"zmem-run\")", "format");
  if (!zmc_json_u64(zmc_json_get(root, "schema"), &schema) || schema != 1)
    return fail(l, "not 1, the schema this zmem reads", "schema");
  const char *lost;
  if (!small(l, root, "exit_status", 0, 255, &run->exit_status) ||
      !small(l, root, "signal", 0, 64, &run->signal) || !f64(l, root, "wall_s", &run->wall_s) ||
      !u32(l, root, "interval_ms", &run->interval_ms) ||
      !str(l, root, "record_lost", true, &lost))
    return false;
  if (!(ch = zmc_json_get(root, "children")) || ch->kind != ZMC_J_BOOL)
    return fail(l, "missing, or not true or false", "children");
  run->children = ch->b;
  run->record_lost = lost ? strdup(lost) : NULL;
  const zmc_jv *fault = zmc_json_get(root, "fault");
  if (fault && fault->kind != ZMC_J_STR)
    return fail(l, "not a string", "fault");
  run->fault = fault ? strdup(fault->str) : NULL;
  const zmc_jv *oom = zmc_json_get(root, "oom_killer");
  if (oom && oom->kind != ZMC_J_NULL && oom->kind != ZMC_J_STR)
    return fail(l, "not null or a string", "oom_killer");
  snprintf(run->oom_cause, sizeof run->oom_cause, "%s",
           oom && oom->kind == ZMC_J_STR ? oom->str : "");
  return (!lost || run->record_lost) && (!fault || run->fault);
}

/* The live run's order: by time, the processes of one round by index. */
static int by_time(const void *a, const void *b) {
  const zmc_sample *x = a, *y = b;
  if (x->t != y->t)
    return x->t < y->t ? -1 : 1;
  return (x->proc > y->proc) - (x->proc < y->proc);
}

int zmc_report_from_json(const zmc_jv *root, zmc_run *run, char *err, size_t errlen) {
  loader l = {err, errlen, ""};
  err[0] = 0;
  const zmc_jv *procs;
  if (!header(&l, root, run) || !command(&l, root, run) || !zmem_signal(&l, root, run) ||
      !summary(&l, root, run) || !(procs = member(&l, root, "processes", ZMC_J_ARR)))
    return err[0] ? -1 : (snprintf(err, errlen, "out of memory"), -1);
  if (procs->n > ZMR_MAX_PROCS)
    return snprintf(err, errlen, "processes: more than the %d a run records", ZMR_MAX_PROCS),
           -1;
  run->procs = calloc(procs->n ? procs->n : 1, sizeof *run->procs);
  if (!run->procs)
    return snprintf(err, errlen, "out of memory"), -1;
  run->nprocs = procs->n;
  for (uint32_t i = 0; i < procs->n; i++)
    if (!process(&l, &procs->v[i], run, i, run->fault != NULL))
      return -1;
  if (run->nsamples)
    qsort(run->samples, run->nsamples, sizeof *run->samples, by_time);
  return zmc_sites_json_read(root, procs, run, err, errlen);
}

int zmc_report_load(const char *path, zmc_run *run, char *err, size_t errlen) {
  char why[400];
  zmc_jv *root = zmc_json_load(path, why, sizeof why);
  if (!root) {
    snprintf(err, errlen, "%s", why);
    return -1;
  }
  int r = zmc_report_from_json(root, run, err, errlen);
  zmc_json_free(root);
  return r;
}

void zmc_report_free(zmc_run *run) {
  zmc_sites_free(run);
  for (int i = 0; run->argv && i < run->argc; i++)
    free(run->argv[i]);
  free((void *)run->argv);
  free((void *)run->fault);
  free((void *)run->record_lost);
  free(run->procs);
  free(run->samples);
  memset(run, 0, sizeof *run);
}
