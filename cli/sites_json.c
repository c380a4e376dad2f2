/* Allocation sites in the --json report and back: see sites_json.h. */
#include "sites_json.h"

#include "profile.h"
#include "render.h"
#include "sites_run.h"

#include <stdlib.h>
#include <string.h>

void zmc_sites_json_run(FILE *f, const zmc_run *run) {
  if (!run->sites)
    return;
  uint64_t sample;
  uint32_t without;
  zmc_sites_counts(run, &sample, &without);
  fprintf(f, "  \"sites\": {\"sample_bytes\": %llu, \"processes_without_table\": %u},\n",
          (unsigned long long)sample, without);
}

static void locations(FILE *f, const zm__prof *p) {
  fputs("\"locations\": [", f);
  for (uint32_t i = 0; i < p->nlocs; i++) {
    const zm__prof_loc *l = &p->locs[i];
    fprintf(f, "%s[%llu, ", i ? ",\n        " : "", (unsigned long long)l->pc);
    zmc_json_str(f, l->name ? l->name : "?");
    fputs(", ", f);
    zmc_json_str(f, l->file ? l->file : "");
    fprintf(f, ", %d, %d]", l->line, l->status);
  }
  fputs("],\n        ", f);
}

static void stacks(FILE *f, const zm__prof *p) {
  fputs("\"stacks\": [", f);
  for (uint32_t i = 0; i < p->nstacks; i++) {
    const zm__prof_stack *s = &p->stacks[i];
    fprintf(f, "%s[%u, [", i ? ",\n        " : "", s->depth);
    for (uint32_t d = 0; d < (s->depth ? s->depth : 1); d++)
      fprintf(f, "%s%u", d ? ", " : "", s->loc[d]);
    fputc(']', f);
    for (int k = 0; k < ZM__PV_N; k++)
      fprintf(f, ", %lld", (long long)s->v[k]);
    fputc(']', f);
  }
  fputs("]}", f);
}

void zmc_sites_json_proc(FILE *f, const zmc_run *run, uint32_t i) {
  if (!run->sites)
    return;
  const char *why;
  const zm__prof *p = zmc_sites_proc(run, i, &why);
  fputs("      \"sites\": ", f);
  if (why) {
    fputs("{\"unreadable\": ", f);
    zmc_json_str(f, why);
    fputc('}', f);
  } else if (!p) {
    fputs("null", f);
  } else {
    fprintf(f, "{\"peak_bytes\": %lld, \"weighted\": %s, \"turned_away\": %llu, "
               "\"table_entries\": %u, \"table_frames\": %llu,\n        ",
            (long long)p->peak, p->weighted ? "true" : "false",
            (unsigned long long)p->turned_away, p->table_entries,
            (unsigned long long)p->table_frames);
    locations(f, p);
    stacks(f, p);
  }
  fputs(",\n", f);
}

/* ------------------------------------------------------------- reading */

typedef struct jloc {
  uint64_t pc;
  uint32_t ix; /* in the JSON's list */
} jloc;

static int by_pc(const void *a, const void *b) {
  uint64_t x = ((const jloc *)a)->pc, y = ((const jloc *)b)->pc;
  return x < y ? -1 : x > y;
}

static bool bad(char *err, size_t errlen, uint32_t proc, const char *what) {
  snprintf(err, errlen, "processes[%u].sites: %s", proc, what);
  return false;
}

/* The JSON's locations, sorted by address (each address once). */
static jloc *read_locs(const zmc_jv *locs, uint32_t proc, char *err, size_t errlen) {
  jloc *m = malloc((locs->n ? locs->n : 1) * sizeof *m);
  if (!m)
    return bad(err, errlen, proc, "out of memory"), NULL;
  for (uint32_t i = 0; i < locs->n; i++) {
    const zmc_jv *l = &locs->v[i];
    int64_t line, status;
    if (l->kind != ZMC_J_ARR || l->n != 5 || !zmc_json_u64(&l->v[0], &m[i].pc) ||
        l->v[1].kind != ZMC_J_STR || l->v[2].kind != ZMC_J_STR ||
        !zmc_json_i64(&l->v[3], &line) || !zmc_json_i64(&l->v[4], &status) ||
        line < 0 || line > INT32_MAX || status < 0 || status > 16) {
      free(m);
      return bad(err, errlen, proc, "a location is not [pc, name, file, line, status]"), NULL;
    }
    m[i].ix = i;
  }
  qsort(m, locs->n, sizeof *m, by_pc);
  for (uint32_t i = 1; i < locs->n; i++)
    if (m[i].pc == m[i - 1].pc) {
      free(m);
      return bad(err, errlen, proc, "two locations have one address"), NULL;
    }
  return m;
}

static const zmc_jv *find_loc(const jloc *m, const zmc_jv *locs, uint64_t pc) {
  jloc key = {pc, 0};
  const jloc *hit = bsearch(&key, m, locs->n, sizeof *m, by_pc);
  return hit ? &locs->v[hit->ix] : NULL;
}

#define MAX_FRAMES 1024 /* above any --depth */

/* One stack: [depth, [location indices], six figures]. */
static bool read_stack(zm__prof *p, const zmc_jv *s, const zmc_jv *locs) {
  uint64_t depth, ix, pc;
  int64_t v[ZM__PV_N];
  if (s->kind != ZMC_J_ARR || s->n != 2 + ZM__PV_N || !zmc_json_u64(&s->v[0], &depth) ||
      depth > MAX_FRAMES || s->v[1].kind != ZMC_J_ARR || s->v[1].n != (depth ? depth : 1))
    return false;
  for (int k = 0; k < ZM__PV_N; k++)
    if (!zmc_json_i64(&s->v[2 + k], &v[k]))
      return false;
  uintptr_t pcs[MAX_FRAMES];
  for (uint32_t d = 0; d < s->v[1].n; d++) {
    if (!zmc_json_u64(&s->v[1].v[d], &ix) || ix >= locs->n ||
        !zmc_json_u64(&locs->v[ix].v[0], &pc))
      return false;
    pcs[d] = (uintptr_t)pc;
  }
  return zm__prof_add(p, pcs, (uint32_t)depth, v) == 0;
}

/* Gives each location of p the name, file and line the JSON has for its
 * address. */
static bool name_locs(zm__prof *p, const jloc *m, const zmc_jv *locs) {
  for (uint32_t i = 0; i < p->nlocs; i++) {
    zm__prof_loc *l = &p->locs[i];
    const zmc_jv *j = find_loc(m, locs, l->pc);
    l->name = strdup(j ? j->v[1].str : "?");
    l->file = strdup(j ? j->v[2].str : "");
    l->line = j ? (int)j->v[3].mag : 0;
    l->status = j ? (int)j->v[4].mag : ZM__SYM_NO_MODULE;
    if (!l->name || !l->file)
      return false;
  }
  return true;
}

static bool read_figures(zm__prof *p, const zmc_jv *o) {
  uint64_t entries, frames;
  const zmc_jv *w = zmc_json_get(o, "weighted");
  if (!zmc_json_i64(zmc_json_get(o, "peak_bytes"), &p->peak) || !w || w->kind != ZMC_J_BOOL ||
      !zmc_json_u64(zmc_json_get(o, "turned_away"), &p->turned_away) ||
      !zmc_json_u64(zmc_json_get(o, "table_entries"), &entries) || entries > UINT32_MAX ||
      !zmc_json_u64(zmc_json_get(o, "table_frames"), &frames))
    return false;
  p->weighted = w->b;
  p->table_entries = (uint32_t)entries;
  p->table_frames = frames;
  return true;
}

static bool read_prof(zm__prof *p, const zmc_jv *o, uint32_t proc, char *err, size_t errlen) {
  const zmc_jv *locs = zmc_json_get(o, "locations"), *st = zmc_json_get(o, "stacks");
  if (!read_figures(p, o) || !locs || locs->kind != ZMC_J_ARR || !st ||
      st->kind != ZMC_J_ARR)
    return bad(err, errlen, proc, "missing or malformed figures, locations or stacks");
  jloc *m = read_locs(locs, proc, err, errlen);
  if (!m)
    return false;
  bool ok = true;
  for (uint32_t i = 0; i < st->n && ok; i++)
    ok = read_stack(p, &st->v[i], locs) || bad(err, errlen, proc, "a stack is not "
         "[depth, [locations], six figures]");
  ok = ok && (name_locs(p, m, locs) || bad(err, errlen, proc, "out of memory"));
  free(m);
  return ok;
}

/* Process i's member: null (no table), {"unreadable": why} or a profile. */
static bool read_one(const zmc_jv *s, uint32_t i, zm__prof *prof, bool *has, char **why,
                     char *err, size_t errlen) {
  const zmc_jv *u = zmc_json_get(s, "unreadable");
  if (!s || s->kind == ZMC_J_NULL)
    return true;
  if (s->kind != ZMC_J_OBJ)
    return bad(err, errlen, i, "neither null nor an object");
  if (u) {
    *why = u->kind == ZMC_J_STR ? strdup(u->str) : NULL;
    return *why || bad(err, errlen, i, "\"unreadable\" is not a string");
  }
  return (*has = read_prof(prof, s, i, err, errlen));
}

int zmc_sites_json_read(const zmc_jv *root, const zmc_jv *procs, zmc_run *run, char *err,
                        size_t errlen) {
  const zmc_jv *s = zmc_json_get(root, "sites");
  uint64_t sample, without;
  if (!s)
    return 0;
  if (!zmc_json_u64(zmc_json_get(s, "sample_bytes"), &sample) ||
      !zmc_json_u64(zmc_json_get(s, "processes_without_table"), &without) ||
      without > UINT32_MAX) {
    snprintf(err, errlen, "sites: no sample_bytes or processes_without_table");
    return -1;
  }
  uint32_t n = run->nprocs ? run->nprocs : 1;
  zm__prof *prof = calloc(n, sizeof *prof);
  bool *has = calloc(n, sizeof *has);
  char **why = calloc(n, sizeof *why);
  bool ok = prof && has && why;
  if (!ok)
    snprintf(err, errlen, "out of memory");
  for (uint32_t i = 0; ok && i < run->nprocs; i++)
    ok = read_one(zmc_json_get(&procs->v[i], "sites"), i, &prof[i], &has[i], &why[i], err,
                  errlen);
  if (ok && zmc_sites_adopt(run, prof, has, why, sample, (uint32_t)without) == 0)
    return 0;
  if (ok)
    snprintf(err, errlen, "out of memory");
  for (uint32_t i = 0; prof && why && i < run->nprocs; i++) {
    zm__prof_free(&prof[i]);
    free(why[i]);
  }
  free(prof);
  free(has);
  free(why);
  return -1;
}
