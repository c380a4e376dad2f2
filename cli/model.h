/* What `zmem run` learned about a run: the figures of each process, copied
 * out of the shared record and checked, and the sampled timeline. Every
 * renderer (text, JSON, SVG, trace) and every gate reads only this. */
#ifndef ZMC_MODEL_H
#define ZMC_MODEL_H

#include "record.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

extern const char *const zmc_fn_names[ZMR_NFN];

#define ZMC_SITE_BYTES 512

/* Heap against RSS at one moment (rss.c), bytes. A part that could not be
 * read there is -1, and its bytes are then inside unexplained. */
typedef struct zmc_heap_rss {
  bool known;
  bool in_process; /* read by the process as it exited; else by the launcher */
  double t;        /* seconds since the program started */
  int64_t rss, requested, held, retained, anon_outside, stacks, file, unexplained;
} zmc_heap_rss;

typedef struct zmc_proc {
  uint32_t index, parent_index, origin, state;
  int pid, ppid;
  bool exit_known;  /* exit_status is valid */
  int exit_status;  /* as a shell reports it: code, or 128 + signal */
  int signal;       /* killing signal when known, else 0 */
  double start_s, end_s; /* seconds since the program started */
  char command[ZMR_CMD_BYTES];
  uint64_t calls[ZMR_NFN], bytes[ZMR_NFN], failures[ZMR_NFN];
  uint64_t realloc_in_place, realloc_moved, realloc_shrunk;
  uint64_t total_requested, total_held, allocations;
  int64_t live_requested, live_held, live_blocks;
  int64_t base_requested, base_held, base_blocks; /* inherited at fork */
  int64_t peak_requested, peak_held;
  uint64_t rss_peak; /* bytes; 0 unknown */
  /* rss_peak is waitpid's figure, which counts the peaks of the images
   * the process exec'd from and of the children it reaped (rss.c). */
  bool rss_with_children;
  uint64_t heap_rss_words[ZMR_HR_WORDS]; /* as the process wrote them at exit */
  zmc_heap_rss at_rss_peak, at_end;
  bool oom_killed; /* ended by the kernel's OOM killer (oomkill.c) */
  /* Most bytes zmem's table of live blocks had mapped in the process. */
  uint64_t table_peak;
  uint64_t hist[ZMR_HIST_BUCKETS];
  uint32_t threads;
  /* Fault injection (--fail, --fail-p): failures injected, the number of
   * the first injected request (0: none) and, with sites, its call site. */
  uint64_t fault_hits, fault_first, fault_requests; /* requests: numbered at exit */
  uint32_t fault_npcs;
  uint64_t fault_pcs[ZMR_FAULT_MAX_PCS];
  char fault_site[ZMC_SITE_BYTES]; /* "func file:line < caller ..."; "" unknown */
  /* What the process could not count: frees of blocks zmem never saw
   * allocated, processes that wrote into this record because they shared
   * its memory (clone without CLONE_VM). */
  uint64_t unseen_frees;
  uint32_t sharers;
  /* Why the figures cannot be trusted (they break the record's own
   * invariants; the program overwrote them), or "": the row is shown
   * marked and left out of the run-wide figures. */
  char untrusted[160];
  /* Why the process was not profiled to its end (ZMC_LEFT_*; 0: it was),
   * from what the launcher saw (unprofiled.h). */
  uint32_t left;
  uint32_t bypass; /* ZMR_BYPASS_* bits: allocators that bypass the preload */
} zmc_proc;

enum zmc_left {
  ZMC_LEFT_STATIC = 1,     /* exec'd a statically linked program */
  ZMC_LEFT_SETUID = 2,     /* exec'd a set-user/group-ID program */
  ZMC_LEFT_NO_PRELOAD = 3, /* exec'd a program without the preload */
  ZMC_LEFT_EXEC = 4,       /* one of those three, which is not known */
  ZMC_LEFT_RUNNING = 5,    /* still running when the first process ended */
};

typedef struct zmc_sample {
  double t;      /* seconds since the program started */
  uint32_t proc; /* index into run.procs */
  int64_t requested, held;
  uint64_t rss;  /* VmRSS then, bytes; 0 unknown */
} zmc_sample;

typedef struct zmc_run {
  char *const *argv;
  int argc;
  int exit_status;  /* the first process's, shell style */
  int signal;       /* the signal that killed it, or 0 */
  double wall_s;
  unsigned interval_ms;
  bool children;
  const char *fault; /* the fault setting (ZMR_ENV_FAULT), or NULL */
  zmc_proc *procs;
  uint32_t nprocs, lost_procs; /* lost: beyond ZMR_MAX_PROCS */
  zmc_sample *samples;
  size_t nsamples, cap;
  /* Run-wide figures (summary). */
  int64_t sum_peak_requested, sum_peak_held; /* peak of the sum over processes */
  uint64_t total_requested, allocations, frees;
  int64_t leaked_requested, leaked_blocks;
  uint64_t rss_peak;
  uint64_t table_peak; /* the largest process's */
  struct zmc_sites *sites; /* allocation sites (sites_run.h); NULL without --sites */
  /* Signals sent to zmem run itself: the first SIGTERM, SIGINT, SIGHUP or
   * SIGQUIT, forwarded to the program (0: none); when zmem then killed the
   * program's processes with SIGKILL, why (ZMC_KILL_*), the second signal
   * (0 for the grace period) and how many processes it killed. */
  int stop_signal, kill_reason, kill_signal;
  unsigned killed_procs;
  /* What zmem could not see, run-wide: the sums of the processes' figures
   * (trusted rows only), processes that found the record's descriptor
   * closed or reused and reopened it through the launcher, rows marked
   * untrusted. */
  uint64_t unseen_frees, reattached;
  uint32_t sharers, untrusted;
  /* The record's header was destroyed: no process figures at all, only
   * what the launcher saw itself (status, wall time, rusage). NULL: intact. */
  const char *record_lost;
  uint64_t launcher_rss_peak; /* waitpid's rusage of the first process, bytes */
  /* What the kernel's OOM killer ended processes for (oomkill.c):
   * "memory cgroup limit 96 MiB", "the system ran out of memory", or "". */
  char oom_cause[96];
} zmc_run;

/* Appends a sample to run's timeline; false when out of memory (the
 * timeline stops growing; the figures stay exact). */
static inline bool zmc_add_sample(zmc_run *run, zmc_sample s) {
  if (run->nsamples == run->cap) {
    size_t cap = run->cap ? run->cap * 2 : 1024;
    zmc_sample *grown = realloc(run->samples, cap * sizeof *grown);
    if (!grown)
      return false;
    run->samples = grown;
    run->cap = cap;
  }
  run->samples[run->nsamples++] = s;
  return true;
}

enum { ZMC_KILL_SECOND_SIGNAL = 1, ZMC_KILL_GRACE = 2 };
#define ZMC_GRACE_S 10 /* seconds from the first signal to SIGKILL of the tree */

#endif
