/* The RSS of each process: its own peak, and its heap against its RSS at
 * that peak and at its end (the kernel's figures, read by the launcher at
 * the sampling interval, and the process's own reading at exit). */
#ifndef ZMC_RSS_H
#define ZMC_RSS_H

#include "model.h"

#include <stdio.h>

/* The launcher's readings of one process's /proc/PID/status. */
typedef struct zmc_rss_reading {
  double t;
  int64_t rss, file, requested, held;
} zmc_rss_reading;

typedef struct zmc_rss_track {
  uint64_t hwm; /* VmHWM: the process's own peak (exec starts a new one) */
  bool seen;
  zmc_rss_reading peak, last;
} zmc_rss_track;

/* One sample of a running process (its live heap figures then). */
void zmc_rss_read(zmc_rss_track *t, int pid, double when, int64_t requested,
                  int64_t held);

/* The row's RSS peak and heap-against-RSS figures from the readings and
 * the words the process wrote at exit. */
void zmc_rss_finish(zmc_proc *p, const zmc_rss_track *t);

/* waitpid's ru_maxrss (bytes) for the first process, pid: the largest of
 * its own peak, of the images it exec'd from and of the children it
 * reaped. Used only where the process could not give its own. */
void zmc_rss_from_wait(zmc_run *run, int pid, uint64_t maxrss);

/* The text report's "heap against RSS" section, and one process's JSON
 * object "heap_vs_rss" (no trailing separator). */
void zmc_heap_rss_text(FILE *f, const zmc_run *run);
void zmc_heap_rss_json(FILE *f, const zmc_proc *p);

#endif
