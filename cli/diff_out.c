/* The outputs of `zmem diff`: see diff_out.h. */
#include "diff_out.h"

#include "escape.h"
#include "pprof.h"
#include "profile.h"
#include "render.h"
#include "sites_run.h"
#include "subcmd.h"
#include "summary.h"

#include <stdlib.h>
#include <string.h>

#define SHOWN_PROCS 12
#define SHOWN_SITES 10
#define SHOWN_FRAMES 4

static const char *const state_words[] = {"", " [new]", " [gone]"};
static const char *const state_names[] = {"both", "new", "gone"};
static const char *const site_words[ZMC_DF_N] = {"live at the peak", "total allocated",
                                                 "live at exit"};
static const char *const site_order[ZMC_DF_N] = {"the bytes live at the peak",
                                                 "the bytes allocated", "the bytes live at exit"};

static int64_t delta(const int64_t v[2][ZMC_DF_N], int k) {
  return zmc_sat_add(v[1][k], v[0][k] == INT64_MIN ? INT64_MAX : -v[0][k]);
}

static bool changed(const int64_t v[2][ZMC_DF_N]) {
  for (int k = 0; k < ZMC_DF_N; k++)
    if (delta(v, k))
      return true;
  return false;
}

/* ----------------------------------------------------------------- text */

/* "+64.0 KiB" with its sign, and the change in percent when there was an
 * old figure. */
static void change(FILE *f, const int64_t v[2][ZMC_DF_N], int k) {
  char a[32];
  int64_t d = delta(v, k);
  fprintf(f, "  %s%s", d > 0 ? "+" : "", zmc_human(a, sizeof a, (double)d));
  if (v[0][k] > 0 && d)
    fprintf(f, " (%+.1f%%)", (double)d / (double)v[0][k] * 100);
  fputc('\n', f);
}

static void figures(FILE *f, const char *indent, const char *const words[ZMC_DF_N],
                    const int64_t v[2][ZMC_DF_N]) {
  for (int k = 0; k < ZMC_DF_N; k++) {
    char a[32], b[32];
    fprintf(f, "%s%-18s %12s -> %-12s", indent, words[k],
            zmc_human(a, sizeof a, (double)v[0][k]), zmc_human(b, sizeof b, (double)v[1][k]));
    change(f, v, k);
  }
}

/* The innermost frames of a site: "grow < main < __libc_start_call_main". */
static void frames(FILE *f, const zmc_diff_site *s) {
  const char *name = s->key;
  for (uint32_t d = 0; d < s->nframes && d < SHOWN_FRAMES; d++) {
    fputs(d ? " < " : "", f);
    zmc_put_escaped(f, name, 200);
    name += strlen(name) + 1;
  }
  if (s->nframes > SHOWN_FRAMES)
    fputs(" < ...", f);
}

static void sites(FILE *f, const zmc_diff *df, const zmc_diff_proc *d) {
  if (!d->sited) {
    fputs("  sites: none recorded for this process in either report (zmem run --sites)\n", f);
    return;
  }
  fprintf(f, "  sites (matched by function names), by growth of %s:\n",
          site_order[df->by]);
  uint32_t shown = 0, unchanged = 0;
  for (uint32_t i = 0; i < d->nsites; i++) {
    const zmc_diff_site *s = &d->sites[i];
    if (!changed((const int64_t(*)[ZMC_DF_N])s->v) && s->state == ZMC_DS_BOTH) {
      unchanged++;
      continue;
    }
    if (shown++ >= SHOWN_SITES)
      continue;
    fprintf(f, "    %u. ", shown);
    frames(f, s);
    fprintf(f, "%s\n", state_words[s->state]);
    figures(f, "         ", site_words, (const int64_t(*)[ZMC_DF_N])s->v);
  }
  if (shown > SHOWN_SITES)
    fprintf(f, "    (%u more sites changed: all of them in --json)\n", shown - SHOWN_SITES);
  if (!shown)
    fputs("    no site changed\n", f);
  if (unchanged)
    fprintf(f, "    (%u site%s unchanged)\n", unchanged, unchanged == 1 ? "" : "s");
}

static void proc_title(FILE *f, const zmc_diff_proc *d) {
  char cmd[101];
  if (d->state == ZMC_DS_BOTH) {
    fprintf(f, "\npid %d -> %d: %s\n", d->p[0]->pid, d->p[1]->pid,
            zmc_escaped(cmd, sizeof cmd, d->p[1]->command));
    if (strcmp(d->p[0]->command, d->p[1]->command))
      fprintf(f, "  (old command: %s)\n", zmc_escaped(cmd, sizeof cmd, d->p[0]->command));
    return;
  }
  const zmc_proc *p = d->p[1] ? d->p[1] : d->p[0];
  fprintf(f, "\npid %d%s: %s\n", p->pid,
          d->state == ZMC_DS_NEW ? " [new]" : " [gone: not in the new run]",
          zmc_escaped(cmd, sizeof cmd, p->command));
}

int zmc_diff_write_text(FILE *f, const zmc_diff *df) {
  uint32_t count[3] = {0, 0, 0}, same = 0;
  for (uint32_t i = 0; i < df->nprocs; i++)
    count[df->procs[i].state]++;
  fputs("zmem diff: ", f);
  zmc_put_escaped(f, df->path[0], SIZE_MAX);
  fputs(" -> ", f);
  zmc_put_escaped(f, df->path[1], SIZE_MAX);
  fprintf(f, "\n  %-18s %12s    %-12s  %s\n", "", "old", "new", "change");
  figures(f, "  ", (const char *const[]){zmc_diff_fig_words(0), zmc_diff_fig_words(1),
                                         zmc_diff_fig_words(2)},
          (const int64_t(*)[ZMC_DF_N])df->v);
  fprintf(f, "processes: %u in both runs (matched by command), %u new, %u gone; "
             "by growth of the %s\n", count[0], count[1], count[2],
          zmc_diff_fig_words(df->by));
  uint32_t shown = 0;
  for (uint32_t i = 0; i < df->nprocs; i++) {
    const zmc_diff_proc *d = &df->procs[i];
    bool moved = changed((const int64_t(*)[ZMC_DF_N])d->v) || d->state != ZMC_DS_BOTH;
    for (uint32_t k = 0; !moved && k < d->nsites; k++)
      moved = d->sites[k].state != ZMC_DS_BOTH ||
              changed((const int64_t(*)[ZMC_DF_N])d->sites[k].v);
    if (!moved || shown >= SHOWN_PROCS) {
      same += !moved;
      continue;
    }
    shown++;
    proc_title(f, d);
    figures(f, "  ", (const char *const[]){zmc_diff_fig_words(0), zmc_diff_fig_words(1),
                                           zmc_diff_fig_words(2)},
            (const int64_t(*)[ZMC_DF_N])d->v);
    sites(f, df, d);
  }
  if (df->nprocs - same > shown)
    fprintf(f, "\n(%u more processes changed: all of them in --json)\n",
            df->nprocs - same - shown);
  if (same)
    fprintf(f, "\n(%u process%s unchanged)\n", same, same == 1 ? "" : "es");
  return ferror(f) ? -1 : 0;
}

/* ----------------------------------------------------------------- JSON */

static void json_figures(FILE *f, const int64_t v[2][ZMC_DF_N]) {
  for (int k = 0; k < ZMC_DF_N; k++)
    fprintf(f, ", \"%s\": {\"old\": %lld, \"new\": %lld, \"delta\": %lld}",
            zmc_diff_fig_name(k), (long long)v[0][k], (long long)v[1][k],
            (long long)delta(v, k));
}

static void json_site(FILE *f, const zmc_diff_site *s, bool last) {
  fprintf(f, "        {\"state\": \"%s\", \"frames\": [", state_names[s->state]);
  const char *name = s->key;
  for (uint32_t d = 0; d < s->nframes; d++) {
    fputs(d ? ", " : "", f);
    zmc_json_str(f, name);
    name += strlen(name) + 1;
  }
  fputc(']', f);
  json_figures(f, (const int64_t(*)[ZMC_DF_N])s->v);
  fprintf(f, "}%s\n", last ? "" : ",");
}

static void json_pid(FILE *f, const char *key, const zmc_proc *p) {
  if (p)
    fprintf(f, "\"%s\": %d, ", key, p->pid);
  else
    fprintf(f, "\"%s\": null, ", key);
}

static void json_proc(FILE *f, const zmc_diff_proc *d, bool last) {
  fprintf(f, "    {\"state\": \"%s\", \"command\": ", state_names[d->state]);
  zmc_json_str(f, (d->p[1] ? d->p[1] : d->p[0])->command);
  fputs(", ", f);
  json_pid(f, "old_pid", d->p[0]);
  json_pid(f, "new_pid", d->p[1]);
  fprintf(f, "\"sites_recorded\": %s", d->sited ? "true" : "false");
  json_figures(f, (const int64_t(*)[ZMC_DF_N])d->v);
  fputs(",\n      \"sites\": [\n", f);
  for (uint32_t k = 0; k < d->nsites; k++)
    json_site(f, &d->sites[k], k + 1 == d->nsites);
  fprintf(f, "      ]}%s\n", last ? "" : ",");
}

int zmc_diff_write_json(FILE *f, const zmc_diff *df) {
  fputs("{\n  \"format\": \"zmem-diff\",\n  \"schema\": 1,\n  \"old\": ", f);
  zmc_json_str(f, df->path[0]);
  fputs(", \"new\": ", f);
  zmc_json_str(f, df->path[1]);
  fprintf(f, ", \"sorted_by\": \"%s\",\n  \"summary\": {\"processes\": %u",
          zmc_diff_fig_name(df->by), df->nprocs);
  json_figures(f, (const int64_t(*)[ZMC_DF_N])df->v);
  fputs("},\n  \"processes\": [\n", f);
  for (uint32_t i = 0; i < df->nprocs; i++)
    json_proc(f, &df->procs[i], i + 1 == df->nprocs);
  fputs("  ]\n}\n", f);
  return ferror(f) ? -1 : 0;
}

/* ---------------------------------------------------------------- pprof */

/* Adds the stacks of src to dst below root, with their figures times
 * sign. */
static int add_signed(zm__prof *dst, const zm__prof *src, const char *root, int sign) {
  zm__prof tmp;
  zm__prof_init(&tmp);
  int r = zm__prof_merge(&tmp, src, NULL);
  for (uint32_t i = 0; r == 0 && i < tmp.nstacks; i++)
    for (int k = 0; k < ZM__PV_N; k++)
      tmp.stacks[i].v[k] *= sign;
  tmp.peak *= sign;
  if (r == 0)
    r = zm__prof_merge(dst, &tmp, root);
  zm__prof_free(&tmp);
  return r;
}

/* New minus old: each process's stacks of the new run, and those of the
 * old run with their figures negated, under a root frame named after the
 * command when either run had several processes with sites. */
int zmc_diff_write_pprof(FILE *f, const zmc_diff *df) {
  zm__prof delta_prof;
  zm__prof_init(&delta_prof);
  bool several = df->run[0].nprocs > 1 || df->run[1].nprocs > 1;
  int r = 0;
  for (uint32_t i = 0; r == 0 && i < df->nprocs; i++) {
    const zmc_diff_proc *d = &df->procs[i];
    char root[ZMR_CMD_BYTES + 4];
    snprintf(root, sizeof root, "[%.*s]", ZMR_CMD_BYTES - 1,
             (d->p[1] ? d->p[1] : d->p[0])->command);
    for (int side = 0; r == 0 && side < 2; side++) {
      const char *why;
      const zm__prof *p = d->p[side] ? zmc_sites_proc(&df->run[side], d->p[side]->index,
                                                      &why) : NULL;
      if (p)
        r = add_signed(&delta_prof, p, several ? root : NULL, side ? 1 : -1);
    }
  }
  zm__pprof_opts o = {0, 0, 0, "zmem diff: new minus old"};
  if (r == 0)
    r = zm__pprof_write(&delta_prof, f, &o);
  zm__prof_free(&delta_prof);
  return r;
}

/* --------------------------------------------------------------- render */

typedef struct job {
  int (*write)(FILE *, const zmc_diff *);
  const zmc_diff *df;
} job;

static int run_job(FILE *f, const void *arg) {
  const job *j = arg;
  return j->write(f, j->df);
}

int zmc_diff_render(const zmc_diff *df, const char *const out[ZMC_DO_N], bool quiet) {
  static int (*const writers[ZMC_DO_N])(FILE *, const zmc_diff *) = {
      zmc_diff_write_text, zmc_diff_write_json, zmc_diff_write_pprof, zmc_diff_write_html};
  int failed = 0;
  if (!out[ZMC_DO_TEXT] && !quiet)
    failed |= zmc_diff_write_text(stdout, df) != 0 || fflush(stdout) != 0;
  for (int k = 0; k < ZMC_DO_N; k++) {
    job j = {writers[k], df};
    if (out[k])
      failed |= zmc_subcmd_write(out[k], run_job, &j) != 0;
  }
  return failed ? -1 : 0;
}
