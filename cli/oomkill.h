/* Whether the kernel's OOM killer ended the program's processes: its kill
 * counters (the memory cgroup's, and the system's /proc/vmstat oom_kill)
 * compared before and after the run. */
#ifndef ZMC_OOMKILL_H
#define ZMC_OOMKILL_H

#include "model.h"

#include <limits.h>
#include <stdio.h>

typedef struct zmc_oom_watch {
  char cgroup[PATH_MAX]; /* the launcher's memory cgroup folder, or "" */
  bool cgroup_ok, system_ok;
  unsigned long long cgroup_kills, system_kills;
} zmc_oom_watch;

/* Before the program starts (it inherits the launcher's cgroup). */
void zmc_oom_begin(zmc_oom_watch *w);

/* After the run: run->oom_cause and each SIGKILLed or vanished row's
 * oom_killed, when a counter rose. */
void zmc_oom_end(const zmc_oom_watch *w, zmc_run *run);

/* The text report's line, when the OOM killer struck. */
void zmc_oom_text(FILE *f, const zmc_run *run);

#endif
