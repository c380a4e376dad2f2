/* `zmem sweep`: the program run once per allocation request, failing
 * request 1, 2, 3, ... (docs/sweep.md). sweep.c runs the steps,
 * sweep_report.c writes the table, the summary, --json and the progress. */
#ifndef ZMC_SWEEP_H
#define ZMC_SWEEP_H

#include "model.h"
#include "record.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Findings first (CHANGED to ERROR, see zmc_is_finding), then the steps
 * that came through: HANDLED (the program reported the failure) and CLEAN. */
enum zmc_step_kind { ZMC_CLEAN, ZMC_CRASH, ZMC_HANG, ZMC_LEAK, ZMC_ERROR, ZMC_CHANGED,
                     ZMC_HANDLED, ZMC_NKINDS };

/* Whether a step agreed with the baseline runs about its request: a run is
 * the baseline's up to the injected failure, so step k reaches request k
 * exactly when the baseline runs made at least k requests. */
enum zmc_repro {
  ZMC_REPRO_OK,
  ZMC_REPRO_MISSED,   /* did not reach request k; every baseline run made it */
  ZMC_REPRO_EXTRA,    /* reached request k; no baseline run made it */
  ZMC_REPRO_DISAGREE, /* some baseline runs made request k, some did not */
};

#define ZMC_MAX_BASELINES 100
#define ZMC_SITE_FRAMES 3 /* --site-frames' default */

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
  bool requests_exact;     /* every process exited: none numbered more */
  int repro;               /* enum zmc_repro */
  int64_t live_blocks, live_bytes; /* at exit, all processes */
  uint64_t out_hash, err_hash; /* of the program's stdout and stderr */
  double wall_s;
  char site[ZMC_SITE_BYTES];
  char tail[ZMC_TAIL_BYTES]; /* crash, error: last lines of its output */
  char *check;             /* --check valgrind: its first error; NULL none */
} zmc_step;

typedef struct zmc_sweep {
  char *const *argv;
  int argc;
  uint64_t from, to;       /* to 0: until a step has no injected failure */
  double timeout_s;
  bool timeout_given;
  unsigned jobs;
  bool sites;
  bool ignore_output;      /* --ignore-output */
  bool by_site, persistent; /* --by-site, --persistent */
  unsigned per_site;       /* --per-site K (with --by-site; default 1) */
  unsigned site_frames;    /* --site-frames N: a site is its innermost N frames */
  uint64_t shallow, seed;  /* --shallow N (0: all steps), --seed S */
  bool seed_given;
  uint64_t *plan, nplan;   /* the steps, ascending, with --by-site or
                            * --shallow; NULL: every step from --from on */
  uint64_t candidates;     /* the steps --shallow drew its steps from */
  zmr_census_entry *census; /* the baseline's call sites, merged by hash */
  uint64_t nsites;         /* how many (0: the census failed) */
  uint64_t sites_failed;   /* of them, sites a step failed a request of */
  bool check;              /* --check valgrind */
  bool check_ran;          /* valgrind was found and ran */
  uint64_t checked;        /* steps run under valgrind */
  bool output_varies;      /* the baseline runs' outputs differ: not compared */
  const char *json, *logs, *output; /* output: --output FILE, the table */
  unsigned nbaselines;     /* runs of the baseline (--baselines) */
  zmc_step baseline;       /* the first of them */
  zmc_step *baselines;
  uint64_t base_lo, base_hi; /* fewest and most requests of the baseline runs */
  bool base_exact;         /* every baseline run's count is exact */
  zmc_step *steps;         /* steps from..last by step number; or plan's */
  uint64_t nsteps, cap;    /* slots used (by the highest step started) */
  uint64_t last;           /* the last step of the sweep (0: not known yet) */
  bool complete;           /* every request was swept, reproducibly */
  bool ended;              /* a step past the baseline's requests had no failure */
  bool interrupted, stuck; /* stuck: steps could not be started */
  uint64_t unreproducible; /* steps whose repro is not ZMC_REPRO_OK */
  const char *incomplete;  /* why not complete; NULL when complete */
  double wall_s;
  uint64_t counts[ZMC_NKINDS];
} zmc_sweep;

const char *zmc_kind_name(int kind);
/* A result that makes the sweep exit 1: changed, crash, hang, leak, error. */
bool zmc_is_finding(int kind);
/* Why a step was not reproducible, for the table and JSON; NULL when it was. */
const char *zmc_repro_note(const zmc_step *r, char *buf, size_t cap);

/* sweep_plan.c: reads the baseline's site census from fd into s->sites;
 * 0, or -1 when it has none. */
int zmc_census_read(zmc_sweep *s, int fd);
/* s->plan for --by-site and --shallow, from the census and the baseline;
 * 0, or -1 out of memory. */
int zmc_sweep_plan(zmc_sweep *s);
/* s->sites_failed: the census's sites with a known request that a step
 * failed (their first, their last or a sampled one). */
void zmc_sweep_coverage(zmc_sweep *s);

/* What --check valgrind needs beyond the sweep. */
typedef struct zmc_check_env {
  const char *preload;
  int input;        /* the copy of stdin, or -1 */
  bool persistent;
  char *const *argv;
  int argc;
  double timeout_s;
  char tool[4096], lib[4096], launcher[4096];
} zmc_check_env;

/* sweep_check.c: runs each crash, hang and leak once more under memcheck
 * and keeps its first error in the step's check; -1 when valgrind is not
 * installed. */
int zmc_sweep_check(zmc_sweep *s, zmc_check_env *e);

/* The table of steps that are not clean and the summary line. */
void zmc_sweep_table(FILE *f, const zmc_sweep *s);
/* The same as JSON, schema "zmem-sweep" 2 (docs/sweep.md). 0, or -1. */
int zmc_sweep_json(FILE *f, const zmc_sweep *s);
/* "N of M steps done" and the findings so far: on a terminal a line
 * rewritten as steps end (done < 0 clears it); else a line every 10 s.
 * now: the monotonic clock, seconds. */
void zmc_sweep_progress(const zmc_sweep *s, int64_t done, double now);

/* Its usage text. */
void zmc_sweep_usage(FILE *f);

/* `zmem sweep ...` (argv[1] is "sweep"); returns the exit status. */
int zmc_sweep_main(int argc, char **argv);

#endif
