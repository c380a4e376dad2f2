/* `zmem run --sites`, the launcher's side: see sites_run.h. */
#define _GNU_SOURCE
#include "sites_run.h"

#include "escape.h"
#include "flame.h"
#include "folded.h"
#include "pprof.h"
#include "profile.h"
#include "sites_record.h"
#include "stacktab.h"
#include "symbolize.h"
#include "symhint.h"
#include "topsites.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct zmc_sites {
  uint32_t n;          /* run->nprocs */
  zm__prof *prof;      /* per process */
  bool *has;           /* the process had a table */
  char **why;          /* why a table could not be read, or NULL */
  char **hint;         /* the modules without symbols among its top sites */
  zm__prof merged;     /* every process's stacks, for the output files */
  uint64_t sample;
  uint32_t without;    /* processes beyond ZMC_SITES_TABLES */
} zmc_sites;

/* ---------------------------------------------------------------- shape */

static uint64_t frames_cap(const zmc_sites_opts *o) {
  int per = o->depth / 2 > 8 ? o->depth / 2 : 8;
  return (uint64_t)ZMC_SITES_CAPACITY * (uint64_t)per;
}

static uint64_t table_bytes(const zmc_sites_opts *o) {
  return zm__stacktab_size(ZMC_SITES_CAPACITY, (uint32_t)o->depth, frames_cap(o));
}

static uint64_t slot_bytes(const zmc_sites_opts *o) {
  return (sizeof(zms_modules) + table_bytes(o) + 63) / 64 * 64;
}

uint64_t zmc_sites_bytes(const zmc_sites_opts *o) {
  if (!o || !o->on)
    return 0;
  return ZMS_DIR_BYTES + (uint64_t)ZMC_SITES_TABLES * slot_bytes(o);
}

void zmc_sites_layout(void *base, zmr_header *h, uint64_t offset, const zmc_sites_opts *o) {
  zms_dir *d = (zms_dir *)((char *)base + offset);
  memset(d, 0, sizeof *d);
  d->magic = ZMS_MAGIC;
  d->version = ZMS_VERSION;
  d->dir_size = ZMS_DIR_BYTES;
  d->ntables = ZMC_SITES_TABLES;
  d->depth = (uint32_t)o->depth;
  d->mode = (uint32_t)o->mode;
  d->capacity = ZMC_SITES_CAPACITY;
  d->sample_rate = o->sample;
  d->frames_cap = frames_cap(o);
  d->table_bytes = table_bytes(o);
  d->slot_bytes = slot_bytes(o);
  for (int i = 0; i < ZMR_MAX_SECTIONS; i++)
    if (h->sections[i].kind == ZMR_SECTION_NONE) {
      h->sections[i].kind = ZMR_SECTION_SITES;
      h->sections[i].offset = offset;
      h->sections[i].size = zmc_sites_bytes(o);
      break;
    }
  h->total_size = offset + zmc_sites_bytes(o);
}

/* -------------------------------------------------------------- reading */

/* The modules of a slot, each entry copied once and checked, into a
 * symbol table. */
zm__symtab *zmc_sites_symbols(const void *modules) {
  const zms_modules *m = modules;
  zm__symtab *s = zm__sym_open();
  if (!s)
    return NULL;
  uint32_t n = atomic_load((_Atomic uint32_t *)&m->count);
  n = n < ZMS_MAX_MODULES ? n : ZMS_MAX_MODULES;
  for (uint32_t i = 0; i < n; i++) {
    zms_module c;
    memcpy(&c, &m->m[i], sizeof c);
    c.path[ZMS_PATH_BYTES - 1] = 0;
    if (c.path[0] != '/' || c.lo >= c.hi || c.build_id_len > sizeof c.build_id)
      continue;
    zm__sym_module sm = {c.path, c.build_id, c.build_id_len, c.base, c.lo, c.hi, c.era};
    zm__sym_add_module(s, &sm);
  }
  return s;
}

static char *reason(const char *fmt, const char *arg) {
  char buf[300];
  snprintf(buf, sizeof buf, fmt, arg);
  return strdup(buf);
}

/* The call site of the first injected failure: up to three frames, the
 * innermost first, in the words of the text report. */
static void fault_site(zm__symtab *sym, zmc_proc *p) {
  size_t at = 0;
  for (uint32_t k = 0; k < p->fault_npcs && k < 3; k++) {
    zm__sym_frame f;
    char one[ZMC_SITE_BYTES / 2];
    zm__sym_lookup(sym, p->fault_pcs[k], &f);
    const char *file = strrchr(f.file, '/');
    if (f.status == ZM__SYM_OK && f.line > 0)
      snprintf(one, sizeof one, "%.150s %.90s:%d", f.func, file ? file + 1 : f.file, f.line);
    else
      zm__sym_format(&f, one, sizeof one);
    int w = snprintf(p->fault_site + at, sizeof p->fault_site - at, "%s%s",
                     k ? " < " : "", one);
    if (w < 0 || (size_t)w >= sizeof p->fault_site - at)
      break;
    at += (size_t)w;
  }
}

static void read_slot(const void *base, uint64_t offset, const zmc_sites_opts *o,
                      uint32_t k, zmc_sites *st, uint32_t i, zmc_proc *proc) {
  const char *slot = (const char *)base + zms_slot_offset(offset, slot_bytes(o), k);
  char err[256];
  zm__symtab *sym = zmc_sites_symbols(slot);
  st->prof[i].keys = sym;
  if (zm__prof_read_table(&st->prof[i], slot + sizeof(zms_modules), table_bytes(o), err,
                          sizeof err) != 0) {
    st->why[i] = reason("%s", err);
    zm__prof_free(&st->prof[i]);
    zm__sym_close(sym);
    return;
  }
  st->prof[i].keys = NULL;
  zm__prof_symbolize(&st->prof[i], sym);
  st->hint[i] = zm__symhint(&st->prof[i], sym);
  if (sym && proc->fault_npcs)
    fault_site(sym, proc);
  zm__sym_close(sym);
  st->has[i] = true;
}

static void merge_all(zmc_sites *st, const zmc_run *run) {
  uint32_t with = 0;
  for (uint32_t i = 0; i < st->n; i++)
    with += st->has[i];
  for (uint32_t i = 0; i < st->n; i++) {
    if (!st->has[i])
      continue;
    char root[ZMR_CMD_BYTES + 32];
    snprintf(root, sizeof root, "[pid %d] %.60s", run->procs[i].pid, run->procs[i].command);
    zm__prof_merge(&st->merged, &st->prof[i], with > 1 ? root : NULL);
  }
}

const char *zmc_sites_collect(const void *base, uint64_t offset, const zmc_sites_opts *o,
                              zmc_run *run) {
  if (!o || !o->on)
    return NULL;
  zmc_sites *st = calloc(1, sizeof *st);
  uint32_t n = run->nprocs ? run->nprocs : 1;
  if (!st || !(st->prof = calloc(n, sizeof *st->prof)) ||
      !(st->has = calloc(n, sizeof *st->has)) || !(st->why = calloc(n, sizeof *st->why)) ||
      !(st->hint = calloc(n, sizeof *st->hint))) {
    if (st) {
      free(st->prof);
      free(st->has);
      free(st->why);
    }
    free(st);
    return "out of memory";
  }
  st->n = run->nprocs;
  st->sample = o->sample;
  run->sites = st;
  zm__prof_init(&st->merged);
  const zms_dir *d = (const zms_dir *)((const char *)base + offset);
  uint32_t claimed = atomic_load((_Atomic uint32_t *)&d->next);
  st->without = claimed > ZMC_SITES_TABLES ? claimed - ZMC_SITES_TABLES : 0;
  bool used[ZMC_SITES_TABLES] = {false};
  for (uint32_t i = 0; i < st->n; i++) {
    zm__prof_init(&st->prof[i]);
    const zmr_proc *p = zmr_proc_at((void *)base, run->procs[i].index);
    uint64_t k1 = ((const volatile uint64_t *)p->ext)[ZMS_EXT_SLOT];
    if (k1 == 0)
      continue;
    if (k1 > ZMC_SITES_TABLES || used[k1 - 1]) {
      st->why[i] = reason("%s", "its stack-table number in the record is not valid");
      continue;
    }
    used[k1 - 1] = true;
    read_slot(base, offset, o, (uint32_t)(k1 - 1), st, i, &run->procs[i]);
  }
  merge_all(st, run);
  return NULL;
}

void zmc_sites_free(zmc_run *run) {
  zmc_sites *st = run->sites;
  if (!st)
    return;
  for (uint32_t i = 0; i < st->n; i++) {
    zm__prof_free(&st->prof[i]);
    free(st->why[i]);
    free(st->hint[i]);
  }
  zm__prof_free(&st->merged);
  free(st->prof);
  free(st->has);
  free(st->why);
  free(st->hint);
  free(st);
  run->sites = NULL;
}

/* -------------------------------------------------------------- writing */

static void write_proc(FILE *out, const zmc_run *run, const zmc_sites *st, uint32_t i,
                       bool several, bool largest) {
  const zm__prof *p = &st->prof[i];
  char cmd[101];
  if (several || st->why[i])
    fprintf(out, "\nallocation sites of pid %d (%s):\n", run->procs[i].pid,
            zmc_escaped(cmd, sizeof cmd, run->procs[i].command));
  else
    fputs("\nallocation sites:\n", out);
  if (st->why[i]) {
    fprintf(out, "  not readable: %s\n", st->why[i]);
    return;
  }
  if (!st->has[i]) {
    fputs("  none recorded (no stack table for this process)\n", out);
    return;
  }
  zm__topsites_write(p, out, largest ? 10 : 5, 4);
  if (st->hint[i])
    fputs(st->hint[i], out);
  fprintf(out, "  stack table: %u distinct stacks, %llu frames, %.1f MiB in the shared "
          "memory%s\n", p->table_entries, (unsigned long long)p->table_frames,
          (double)((uint64_t)p->table_entries * sizeof(zm__st_entry) +
                   p->table_frames * sizeof(uintptr_t)) / 1048576.0,
          st->sample ? "; figures estimated from samples" : "");
}

/* The processes with sites shown, largest peak first. */
#define SHOWN_PROCS 4

static uint32_t processes_with_sites(const zmc_sites *st) {
  uint32_t with = 0;
  for (uint32_t i = 0; i < st->n; i++)
    with += st->has[i];
  return with;
}

/* What the merged views (flame graph, pprof, folded stacks) sum, with its
 * figure: the same words in the text report and in each of them. */
static void merged_words(const zmc_run *run, char *buf, size_t len) {
  const zmc_sites *st = run->sites;
  uint32_t with = st ? processes_with_sites(st) : 0;
  char size[32];
  zm__flame_size(st ? zm__prof_total(&st->merged, ZM__PV_PEAK_BYTES) : 0, size, sizeof size);
  if (with > 1)
    snprintf(buf, len, "the sum over %u processes of what each held at its own peak, "
             "not at one moment: %s", with, size);
  else
    snprintf(buf, len, "live at the peak: %s", size);
}

int zmc_sites_write_text(FILE *out, const zmc_run *run) {
  const zmc_sites *st = run->sites;
  if (!st || st->n == 0)
    return 0;
  bool several = st->n > 1;
  uint32_t shown[SHOWN_PROCS], nshown = 0, listed = 0;
  for (uint32_t i = 0; i < st->n; i++) {
    if (!st->has[i] && !st->why[i])
      continue;
    listed++;
    /* Insertion by peak into the few kept. */
    uint32_t j = nshown < SHOWN_PROCS ? nshown++ : SHOWN_PROCS;
    while (j > 0 && st->prof[shown[j - 1]].peak < st->prof[i].peak) {
      if (j < SHOWN_PROCS)
        shown[j] = shown[j - 1];
      j--;
    }
    if (j < SHOWN_PROCS)
      shown[j] = i;
  }
  if (processes_with_sites(st) > 1) {
    char words[200];
    merged_words(run, words, sizeof words);
    fprintf(out, "\nmerged views (--flame, --pprof, --collapsed): %s\n", words);
  }
  if (nshown == 0)
    write_proc(out, run, st, 0, several, true);
  for (uint32_t k = 0; k < nshown; k++)
    write_proc(out, run, st, shown[k], several, k == 0);
  if (listed > nshown)
    fprintf(out, "(%u more processes with sites, smaller peaks: all of them are in "
            "--pprof, --collapsed and --flame)\n", listed - nshown);
  if (st->without)
    fprintf(out, "(%u processes had no stack table: at most %d per run)\n", st->without,
            ZMC_SITES_TABLES);
  return ferror(out) ? -1 : 0;
}

static const zm__prof *merged(const zmc_run *run) {
  const zmc_sites *st = run->sites;
  static zm__prof empty;
  return st ? &st->merged : &empty;
}

int zmc_sites_write_pprof(FILE *out, const zmc_run *run) {
  const zmc_sites *st = run->sites;
  char comment[700] = "zmem run", words[200];
  for (int i = 0; i < run->argc && strlen(comment) < 400; i++)
    snprintf(comment + strlen(comment), sizeof comment - strlen(comment), " %s",
             run->argv[i]);
  merged_words(run, words, sizeof words);
  snprintf(comment + strlen(comment), sizeof comment - strlen(comment),
           "; peak_inuse_space: %s", words);
  zm__pprof_opts o = {0, (int64_t)(run->wall_s * 1e9), st ? (int64_t)st->sample : 0,
                      comment};
  return zm__pprof_write(merged(run), out, &o);
}

int zmc_sites_write_collapsed(FILE *out, const zmc_run *run) {
  return zm__folded_write(merged(run), ZM__PV_PEAK_BYTES, out);
}

int zmc_sites_write_flame(FILE *out, const zmc_run *run) {
  const zmc_sites *st = run->sites;
  bool several = st && processes_with_sites(st) > 1;
  char title[400], words[200];
  snprintf(title, sizeof title, "Memory live at %s:",
           several ? "each process's own peak" : "the peak");
  for (int i = 0; i < run->argc && strlen(title) < 300; i++)
    snprintf(title + strlen(title), sizeof title - strlen(title), " %s", run->argv[i]);
  merged_words(run, words, sizeof words);
  zm__flame_opts o = {title, "bytes", 1200, words};
  return zm__flame_write(merged(run), ZM__PV_PEAK_BYTES, out, &o);
}

void zmc_sites_gate(FILE *out, const zmc_run *run, int which) {
  if (!run->sites)
    return;
  zm__topsites_brief(merged(run), which == 0 ? ZM__PV_PEAK_BYTES : ZM__PV_LIVE_BYTES, out, 3);
}

const zm__prof *zmc_sites_proc(const zmc_run *run, uint32_t i, const char **why) {
  const zmc_sites *st = run->sites;
  *why = st && i < st->n ? st->why[i] : NULL;
  return st && i < st->n && st->has[i] ? &st->prof[i] : NULL;
}

void zmc_sites_counts(const zmc_run *run, uint64_t *sample, uint32_t *without) {
  *sample = run->sites ? run->sites->sample : 0;
  *without = run->sites ? run->sites->without : 0;
}

/* ------------------------------------------------- reports read back */

int zmc_sites_adopt(zmc_run *run, zm__prof *prof, bool *has, char **why, uint64_t sample,
                    uint32_t without) {
  /* The symbol hints are not in the JSON: they need the modules' files. */
  char **hint = calloc(run->nprocs ? run->nprocs : 1, sizeof *hint);
  zmc_sites *st = hint ? calloc(1, sizeof *st) : NULL;
  if (!st) {
    free(hint);
    return -1;
  }
  *st = (zmc_sites){run->nprocs, prof, has, why, hint, {0}, sample, without};
  zm__prof_init(&st->merged);
  run->sites = st;
  merge_all(st, run);
  return 0;
}
