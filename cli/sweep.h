/* `zmem sweep`: the program run once per allocation request, failing
 * request 1, 2, 3, ... (docs/sweep.md). sweep.c runs the steps,
 * sweep_report.c writes the table, the summary, --json and the progress. */
#ifndef ZMC_SWEEP_H
#define ZMC_SWEEP_H

#include "model.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum zmc_step_kind { ZMC_CLEAN, ZMC_CRASH, ZMC_HANG, ZMC_LEAK, ZMC_ERROR, ZMC_NKINDS };

#define ZMC_TAIL_BYTES 600 /* the end of a crashing step's output */

/* What one run told: from the runner process, through a pipe. */
typedef struct zmc_step {
  uint64_t step;           /* request made to fail; 0: the baseline */
  bool ran;                /* finished (or was killed as a hang) */
  int kind;                /* enum zmc_step_kind */
  int launch_rc;           /* zmc_launch's result; 0: the program ran */
  int exit_status;         /* shell style, as zmem run */
  int signal;              /* killing signal, 0 none */
  uint64_t injected;       /* failures injected, all processes */
  uint64_t first_request;  /* number of the first one (first process that had one) */
  uint64_t requests;       /* most requests any process numbered (baseline) */
  int64_t live_blocks, live_bytes; /* at exit, all processes */
  double wall_s;
  char site[ZMC_SITE_BYTES];
  char tail[ZMC_TAIL_BYTES]; /* crash, error: last lines of its output */
} zmc_step;

typedef struct zmc_sweep {
  char *const *argv;
  int argc;
  uint64_t from, to;       /* to 0: until a step has no injected failure */
  double timeout_s;
  bool timeout_given;
  unsigned jobs;
  bool sites;
  const char *json, *logs;
  zmc_step baseline;
  zmc_step *steps;         /* steps from..last, by step number */
  uint64_t nsteps, cap;    /* slots used (by the highest step started) */
  uint64_t last;           /* the last step of the sweep (0: not known yet) */
  bool complete;           /* a step ran with no injected failure */
  bool interrupted;
  double wall_s;
  uint64_t counts[ZMC_NKINDS];
} zmc_sweep;

const char *zmc_kind_name(int kind);

/* The table of steps that are not clean and the summary line. */
void zmc_sweep_table(FILE *f, const zmc_sweep *s);
/* The same as JSON, schema "zmem-sweep" 1 (docs/sweep.md). 0, or -1. */
int zmc_sweep_json(FILE *f, const zmc_sweep *s);
/* "steps done/total, crashes" on a terminal; done < 0 clears the line. */
void zmc_sweep_progress(const zmc_sweep *s, int64_t done);

/* Its usage text. */
void zmc_sweep_usage(FILE *f);

/* `zmem sweep ...` (argv[1] is "sweep"); returns the exit status. */
int zmc_sweep_main(int argc, char **argv);

#endif
