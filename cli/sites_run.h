/* `zmem run --sites`: the sites section of the shared record (laid out by
 * the launcher before the program starts, read back after it ended), each
 * process's stack table turned into a symbolised profile, and the outputs:
 * top sites in the text report, --pprof, --collapsed, --flame, and the
 * sites that the budget gates name. */
#ifndef ZMC_SITES_RUN_H
#define ZMC_SITES_RUN_H

#include "model.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct zmc_sites_opts {
  bool on;
  int depth;        /* frames per stack */
  int mode;         /* zm__unwind_mode */
  uint64_t sample;  /* bytes between samples; 0: every allocation */
} zmc_sites_opts;

#define ZMC_SITES_TABLES 64       /* processes with a stack table, at most */
#define ZMC_SITES_CAPACITY 32768  /* distinct stacks per process */

/* Bytes of the section (0 when sites are off). */
uint64_t zmc_sites_bytes(const zmc_sites_opts *o);

/* Writes the section's directory at base + offset and its entry in the
 * header h. */
void zmc_sites_layout(void *base, zmr_header *h, uint64_t offset, const zmc_sites_opts *o);

/* Reads every process's table into run->sites after the run. NULL, or a
 * one-line reason why the section cannot be trusted. */
const char *zmc_sites_collect(const void *base, uint64_t offset, const zmc_sites_opts *o,
                              zmc_run *run);

/* The top-sites part of the text report (nothing without sites). */
int zmc_sites_write_text(FILE *out, const zmc_run *run);

/* The output files. 0, or -1 with errno. */
int zmc_sites_write_pprof(FILE *out, const zmc_run *run);
int zmc_sites_write_collapsed(FILE *out, const zmc_run *run);
int zmc_sites_write_flame(FILE *out, const zmc_run *run);

/* The 3 sites behind a tripped gate: which = 0 the peak, 1 leaked. */
void zmc_sites_gate(FILE *out, const zmc_run *run, int which);

/* A slot's module list (zms_modules, untrusted) as a symbol table; NULL
 * when out of memory. */
struct zm__symtab;
struct zm__symtab *zmc_sites_symbols(const void *modules);

/* Process i's sites (NULL: none recorded; *why then says why when its
 * table could not be read), the bytes between samples (0: exact) and the
 * processes beyond ZMC_SITES_TABLES. */
struct zm__prof;
const struct zm__prof *zmc_sites_proc(const zmc_run *run, uint32_t i, const char **why);
void zmc_sites_counts(const zmc_run *run, uint64_t *sample, uint32_t *without);
/* For a report read back (sites_json.c): makes run->sites from per-process profiles (run->nprocs of each array,
 * calloc'd; taken over, also on failure by zmc_sites_free), merging them
 * as a live run does. 0, or -1 when out of memory (arrays not taken). */
int zmc_sites_adopt(zmc_run *run, struct zm__prof *prof, bool *has, char **why,
                    uint64_t sample, uint32_t without);

/* Frees run->sites. */
void zmc_sites_free(zmc_run *run);

#endif
