/* The report for people: stderr or --output FILE. */
#define _GNU_SOURCE /* sigabbrev_np */
#include "escape.h"
#include "oomkill.h"
#include "render.h"
#include "rss.h"
#include "summary.h"
#include "unprofiled.h"

#include <signal.h>
#include <string.h>

/* A size in words; eight calls may share one printf. */
static const char *hum(double x) {
  static char b[8][32];
  static unsigned nb;
  return zmc_human(b[nb++ % 8], 32, x);
}
#define H(x) hum((double)(x))

const char *zmc_status_words(const zmc_proc *p, char *buf, size_t cap) {
  if (p->state == ZMR_STATE_EXECED || (p->left && p->left != ZMC_LEFT_RUNNING &&
                                        !p->exit_known))
    snprintf(buf, cap, "exec");
  else if (p->oom_killed)
    snprintf(buf, cap, "OOM kill");
  else if (p->left == ZMC_LEFT_RUNNING)
    snprintf(buf, cap, "running");
  else if (p->exit_known && p->signal)
    snprintf(buf, cap, "SIG%s", sigabbrev_np(p->signal) ? sigabbrev_np(p->signal) : "?");
  else if (p->exit_known)
    snprintf(buf, cap, "exit %d", p->exit_status);
  else
    snprintf(buf, cap, "killed?");
  return buf;
}

/* Figures summed over the processes, for the per-function table. */
static void sum_fns(const zmc_run *run, zmc_proc *s) {
  memset(s, 0, sizeof *s);
  for (uint32_t i = 0; i < run->nprocs; i++) {
    const zmc_proc *p = &run->procs[i];
    if (p->untrusted[0])
      continue;
    for (int f = 0; f < ZMR_NFN; f++) {
      s->calls[f] += p->calls[f];
      s->bytes[f] += p->bytes[f];
      s->failures[f] += p->failures[f];
    }
    for (int k = 0; k < ZMR_HIST_BUCKETS; k++)
      s->hist[k] += p->hist[k];
    s->realloc_in_place += p->realloc_in_place;
    s->realloc_moved += p->realloc_moved;
    s->realloc_shrunk += p->realloc_shrunk;
    s->total_held += p->total_held;
    s->live_held = zmc_sat_add(s->live_held, zmc_sat_add(p->live_held, -p->base_held));
  }
}

/* Fault injection: which request failed in which process, and where. */
static void faults(FILE *f, const zmc_run *run) {
  if (!run->fault)
    return;
  uint64_t total = 0;
  for (uint32_t i = 0; i < run->nprocs; i++) {
    const zmc_proc *p = &run->procs[i];
    total += p->fault_hits;
    if (!p->fault_hits)
      continue;
    fprintf(f, "  allocation request %llu failed (injected)", (unsigned long long)p->fault_first);
    if (run->nprocs > 1)
      fprintf(f, " in pid %d", p->pid);
    if (p->fault_hits > 1)
      fprintf(f, ", %llu failures injected in all", (unsigned long long)p->fault_hits);
    fputc('\n', f);
    if (p->fault_site[0]) {
      fputs("    at ", f);
      zmc_put_escaped(f, p->fault_site, SIZE_MAX);
      fputc('\n', f);
    }
  }
  if (!total)
    fprintf(f, "  no allocation request failed (injected): fewer requests than asked\n");
}

/* What zmem did with the signals sent to it (docs/run.md, "Signals"). */
static void zmem_signals(FILE *f, const zmc_run *run) {
  if (!run->stop_signal)
    return;
  fprintf(f, "  zmem received SIG%s; forwarded to the program\n",
          sigabbrev_np(run->stop_signal));
  if (run->kill_reason == ZMC_KILL_SECOND_SIGNAL)
    fprintf(f, "  then SIG%s: zmem killed the program's %u processes with SIGKILL\n",
            sigabbrev_np(run->kill_signal), run->killed_procs);
  else if (run->kill_reason == ZMC_KILL_GRACE)
    fprintf(f, "  the program still ran %d s later: zmem killed its %u processes "
               "with SIGKILL\n", ZMC_GRACE_S, run->killed_procs);
}

static void header(FILE *f, const zmc_run *run) {
  fprintf(f, "zmem run:");
  zmc_put_argv(f, run->argv, run->argc);
  fputc('\n', f);
  if (run->signal == SIGKILL && run->nprocs && run->procs[0].oom_killed)
    fprintf(f, "  killed by the kernel's OOM killer (%s) after %.3f s\n", run->oom_cause,
            run->wall_s);
  else if (run->signal)
    fprintf(f, "  killed by SIG%s after %.3f s\n", sigabbrev_np(run->signal), run->wall_s);
  else
    fprintf(f, "  exit status %d after %.3f s\n", run->exit_status, run->wall_s);
  zmem_signals(f, run);
  faults(f, run);
}

static void memory(FILE *f, const zmc_run *run, const zmc_proc *s) {
  fprintf(f, "memory%s\n", run->nprocs > 1 ? " (all processes)" : "");
  fprintf(f, "  heap peak        %12s requested   %12s held\n",
          H(run->sum_peak_requested), H(run->sum_peak_held));
  fprintf(f, "  RSS peak         %12s (largest process, from the kernel)\n",
          run->rss_peak ? H(run->rss_peak) : "unknown");
  fprintf(f, "  zmem's table     %12s (largest process: mapped for the live blocks' "
             "sizes%s)\n",
          H(run->table_peak), run->sites ? " and sites" : "");
  fprintf(f, "  total allocated  %12s requested   %12s held   in %llu allocations\n",
          H(run->total_requested), H(s->total_held), (unsigned long long)run->allocations);
  fprintf(f, "  live at exit     %12s requested   %12s held   in %lld blocks\n",
          H(run->leaked_requested), H(s->live_held), (long long)run->leaked_blocks);
}

static void calls(FILE *f, const zmc_proc *s) {
  fprintf(f, "calls               calls      requested   failures\n");
  for (int k = 0; k < ZMR_NFN; k++) {
    if (!s->calls[k] && k != ZMR_MALLOC && k != ZMR_FREE)
      continue;
    fprintf(f, "  %-18s %9llu %14s %10llu\n", zmc_fn_names[k],
            (unsigned long long)s->calls[k],
            k == ZMR_USABLE_SIZE ? "-" : H(s->bytes[k]),
            (unsigned long long)s->failures[k]);
  }
  fprintf(f, "  realloc: %llu in place, %llu moved, %llu shrunk in place\n",
          (unsigned long long)s->realloc_in_place, (unsigned long long)s->realloc_moved,
          (unsigned long long)s->realloc_shrunk);
}

/* 2^e bytes in the largest binary unit that keeps it whole: "64 KiB". */
static void pow2_label(char *buf, size_t cap, int e) {
  static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  snprintf(buf, cap, "%llu %s", 1ULL << (e % 10), units[e / 10]);
}

/* Bucket k holds requested sizes in [2^(k-1), 2^k); bucket 0 size 0. */
static void bucket_label(char *buf, size_t cap, int k) {
  char lo[32], hi[32];
  if (k == 0) {
    snprintf(buf, cap, "0");
    return;
  }
  pow2_label(lo, sizeof lo, k - 1);
  pow2_label(hi, sizeof hi, k);
  snprintf(buf, cap, "[%s, %s)", lo, hi);
}

static void histogram(FILE *f, const zmc_proc *s) {
  uint64_t max = 0;
  int lo = -1, hi = -1;
  for (int k = 0; k < ZMR_HIST_BUCKETS; k++) {
    if (s->hist[k] > max)
      max = s->hist[k];
    if (s->hist[k]) {
      if (lo < 0)
        lo = k;
      hi = k;
    }
  }
  if (lo < 0)
    return;
  fprintf(f, "allocation sizes (requested)\n");
  for (int k = lo; k <= hi; k++) {
    char label[80], bar[41];
    bucket_label(label, sizeof label, k);
    int w = (int)((s->hist[k] * 40 + max - 1) / max);
    memset(bar, '#', (size_t)w);
    bar[w] = 0;
    fprintf(f, "  %-22s %10llu %s\n", label, (unsigned long long)s->hist[k], bar);
  }
}

#define MAX_ROWS 12

static void row(FILE *f, const zmc_proc *p) {
  char st[32], cmd[61];
  fprintf(f, "  %7d %7d %10s %10s %10s %10s %9s  %s%s\n", p->pid, p->ppid,
          H(p->peak_requested), H(p->peak_held), H(p->total_requested),
          p->rss_peak ? H(p->rss_peak) : "?", zmc_status_words(p, st, sizeof st),
          p->origin == ZMR_ORIGIN_FORK ? "(fork) " : "",
          zmc_escaped(cmd, sizeof cmd, p->command));
  if (p->rss_with_children)
    fprintf(f, "  %7s ^ RSS peak from waitpid, the only figure the kernel kept: it includes "
               "the children it reaped and the programs it exec'd from\n", "");
  if (p->untrusted[0])
    fprintf(f, "  %7s ^ untrusted, its figures are left out of the totals: %s\n", "",
            p->untrusted);
  if (zmc_left_words(p))
    fprintf(f, "  %7s ^ %s\n", "", zmc_left_words(p));
  for (uint32_t bit = 1; bit <= ZMR_BYPASS_KNOWN; bit <<= 1)
    if (p->bypass & bit)
      fprintf(f, "  %7s ^ %s\n", "", zmc_bypass_words(bit));
}

static void processes(FILE *f, const zmc_run *run) {
  fprintf(f, "processes (%u%s)\n", run->nprocs,
          run->lost_procs ? ", more not recorded: the run's table is full" : "");
  fprintf(f, "  %7s %7s %10s %10s %10s %10s %9s  %s\n", "pid", "parent", "peak req",
          "peak held", "total", "RSS peak", "status", "command");
  uint32_t pick[MAX_ROWS], n = zmc_top(run, pick, MAX_ROWS);
  for (uint32_t i = 0; i < n; i++)
    row(f, &run->procs[pick[i]]);
  if (run->nprocs > n)
    fprintf(f, "  ... %u more with smaller peaks (all of them in --json)\n",
            run->nprocs - n);
  if (run->nprocs > 1)
    fprintf(f, "  peak of the sum over processes: %s requested, %s held "
               "(sampled every %u ms)\n",
            H(run->sum_peak_requested), H(run->sum_peak_held), run->interval_ms);
}

static void plural(FILE *f, uint64_t n, const char *one, const char *many,
                   const char *rest) {
  fprintf(f, "  %llu %s %s\n", (unsigned long long)n, n == 1 ? one : many, rest);
}

/* What zmem could not see or could not trust: one line each. */
static void unseen(FILE *f, const zmc_run *run) {
  if (run->record_lost) {
    fprintf(f, "zmem could not see\n  the program destroyed zmem's shared record (%s):\n"
               "  no figures from any process; status, time and RSS are the "
               "launcher's own\n", run->record_lost);
    fprintf(f, "  RSS peak %s (the first process, from waitpid)\n",
            run->rss_peak ? H(run->rss_peak) : "unknown");
    return;
  }
  if (!run->unseen_frees && !run->sharers && !run->reattached && !run->untrusted)
    return;
  fprintf(f, "zmem could not see\n");
  if (run->unseen_frees)
    fprintf(f, "  %llu free%s of blocks zmem never saw (not in the freed or live figures)\n",
            (unsigned long long)run->unseen_frees, run->unseen_frees == 1 ? "" : "s");
  if (run->sharers)
    plural(f, run->sharers, "process shared its parent's record",
           "processes shared their parent's record", "(figures approximate)");
  if (run->reattached)
    plural(f, run->reattached, "process found zmem's descriptor closed or reused;",
           "processes found zmem's descriptor closed or reused;",
           "reopened the record through zmem (profiled)");
  if (run->untrusted)
    plural(f, run->untrusted, "process's figures do not hold up",
           "processes' figures do not hold up", "(marked untrusted below, left out of "
           "the totals)");
}

int zmc_write_text(FILE *f, const zmc_run *run) {
  zmc_proc s;
  sum_fns(run, &s);
  header(f, run);
  unseen(f, run);
  if (run->record_lost)
    return ferror(f) ? -1 : 0;
  memory(f, run, &s);
  calls(f, &s);
  histogram(f, &s);
  if (run->nprocs > 1 || run->children || run->untrusted || zmc_any_unprofiled(run))
    processes(f, run);
  zmc_oom_text(f, run);
  zmc_heap_rss_text(f, run);
  return ferror(f) ? -1 : 0;
}
