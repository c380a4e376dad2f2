/* `zmem diff OLD.json NEW.json`: two saved `zmem run --json` reports
 * compared per process (matched by command) and per allocation site
 * (matched by the names of its frames, never by address), sorted by
 * growth (docs/report.md). The comparison is computed once into zmc_diff;
 * each output (text, --json, --pprof, and any later one such as an HTML
 * view) renders only that. */
#ifndef ZMC_DIFF_H
#define ZMC_DIFF_H

#include "model.h"

#include <stdio.h>

enum { ZMC_DF_PEAK, ZMC_DF_TOTAL, ZMC_DF_LEAKED, ZMC_DF_N };
enum { ZMC_DS_BOTH, ZMC_DS_NEW, ZMC_DS_GONE }; /* in both runs, only the new, only the old */

typedef struct zmc_diff_site {
  char *key;        /* frame names, innermost first, each ending in '\0' */
  size_t keylen;
  uint32_t nframes;
  int state;        /* ZMC_DS_* */
  int64_t v[2][ZMC_DF_N]; /* [0] old, [1] new: live at the peak, allocated, live at exit */
} zmc_diff_site;

typedef struct zmc_diff_proc {
  const zmc_proc *p[2]; /* old, new (NULL: not in that run) */
  int state;
  int64_t v[2][ZMC_DF_N]; /* heap peak, total allocated, live at exit (requested) */
  zmc_diff_site *sites;
  uint32_t nsites;
  bool sited;            /* either run had sites for it */
} zmc_diff_proc;

typedef struct zmc_diff {
  const char *path[2];
  zmc_run run[2];
  int by;                /* ZMC_DF_* the lists are sorted by */
  int64_t v[2][ZMC_DF_N]; /* run-wide */
  zmc_diff_proc *procs;
  uint32_t nprocs;
} zmc_diff;

int zmc_diff_main(int argc, char **argv);
void zmc_diff_usage(FILE *f);

/* Words of figure k ("heap peak") and its name in options and JSON. */
const char *zmc_diff_fig_words(int k);
const char *zmc_diff_fig_name(int k);

#endif
