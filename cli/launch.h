/* Starting the program under the preload and watching it: the shared
 * record, the checks before the start, fork/exec, sampling, waitpid. */
#ifndef ZMC_LAUNCH_H
#define ZMC_LAUNCH_H

#include "model.h"

struct zmc_sites_opts;

typedef struct zmc_launch_opts {
  unsigned interval_ms;
  bool children;
  const struct zmc_sites_opts *sites; /* allocation sites; NULL: off */
  const char *fault; /* fault setting for the program (ZMR_ENV_FAULT); NULL: none */
  /* zmem run: SIGTERM, SIGINT, SIGHUP and SIGQUIT sent to the launcher go
   * to the program, a second one (or the grace period) kills its tree;
   * the program dies with the launcher (docs/run.md, "Signals"). */
  bool forward_signals;
  bool live; /* zmem run --live: the terminal view (live.h) while it runs */
} zmc_launch_opts;

/* Resolves argv[0] like the shell (PATH), checks that it can be profiled,
 * and writes the path into out. Returns 0, or the exit status to give up
 * with (126, 127) after printing why: a static or a set-user/group-ID
 * program the loader would run without the preload is refused. */
int zmc_check_program(const char *name, char *out, size_t cap);

/* Runs path with argv under the preload at preload_path; fills run (a
 * record the program damaged leaves marked rows, or run->record_lost).
 * Returns 0, or 125 after printing why (no shared memory, fork failed, out
 * of memory), or 126/127 when exec failed (nothing ran; the child printed
 * why). */
int zmc_launch(const char *path, char *const argv[], const char *preload_path,
               const zmc_launch_opts *o, zmc_run *run);

/* The preload library next to this executable (build tree or installed);
 * 0, or -1 after printing why. */
int zmc_find_preload(char *out, size_t cap);

#endif
