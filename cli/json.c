/* --json FILE: the whole run, schema "zmem-run" version 1 (docs/run.md). */
#define _GNU_SOURCE /* sigabbrev_np */
#include "render.h"
#include "rss.h"
#include "sites_json.h"
#include "summary.h"
#include "unprofiled.h"

#include <signal.h>
#include <string.h>

void zmc_json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 0x20 || c >= 0x7f)
      fprintf(f, "\\u%04x", c); /* bytes above ASCII as Latin-1: lossless */
    else
      fputc(c, f);
  }
  fputc('"', f);
}

static void u64(FILE *f, const char *k, uint64_t v, const char *sep) {
  fprintf(f, "\"%s\": %llu%s", k, (unsigned long long)v, sep);
}

static void i64(FILE *f, const char *k, int64_t v, const char *sep) {
  fprintf(f, "\"%s\": %lld%s", k, (long long)v, sep);
}

static void functions(FILE *f, const zmc_proc *p) {
  fprintf(f, "      \"functions\": {");
  for (int k = 0; k < ZMR_NFN; k++)
    fprintf(f, "%s\"%s\": {\"calls\": %llu, \"bytes\": %llu, \"failures\": %llu}",
            k ? ", " : "", zmc_fn_names[k], (unsigned long long)p->calls[k],
            (unsigned long long)p->bytes[k], (unsigned long long)p->failures[k]);
  fprintf(f, "},\n");
}

static void histogram(FILE *f, const zmc_proc *p) {
  fprintf(f, "      \"histogram\": [");
  bool first = true;
  for (int k = 0; k < ZMR_HIST_BUCKETS; k++) {
    if (!p->hist[k])
      continue;
    uint64_t lo = k ? (uint64_t)1 << (k - 1) : 0;
    uint64_t hi = k ? ((uint64_t)1 << (k - 1)) * 2 - 1 : 0;
    fprintf(f, "%s{\"min\": %llu, \"max\": %llu, \"count\": %llu}", first ? "" : ", ",
            (unsigned long long)lo, (unsigned long long)hi, (unsigned long long)p->hist[k]);
    first = false;
  }
  fprintf(f, "],\n");
}

static void status(FILE *f, const zmc_proc *p) {
  if (p->state == ZMR_STATE_EXECED)
    fprintf(f, "\"status\": {\"kind\": \"exec\"}");
  else if (p->exit_known && p->signal)
    fprintf(f, "\"status\": {\"kind\": \"signal\", \"signal\": %d, \"name\": \"SIG%s\", "
               "\"exit_status\": %d}",
            p->signal, sigabbrev_np(p->signal) ? sigabbrev_np(p->signal) : "?",
            p->exit_status);
  else if (p->exit_known)
    fprintf(f, "\"status\": {\"kind\": \"exit\", \"exit_status\": %d}", p->exit_status);
  else
    fprintf(f, "\"status\": {\"kind\": \"unknown\"}");
}

static const char *origin(uint32_t o) {
  return o == ZMR_ORIGIN_FIRST ? "first" : o == ZMR_ORIGIN_EXEC ? "exec" : "fork";
}

static void process(FILE *f, const zmc_run *run, const zmc_proc *p, bool last) {
  fprintf(f, "    {");
  i64(f, "pid", p->pid, ", ");
  i64(f, "ppid", p->ppid, ", ");
  u64(f, "index", p->index, ", ");
  if (p->parent_index < run->nprocs)
    u64(f, "parent_index", p->parent_index, ", ");
  else
    fprintf(f, "\"parent_index\": null, ");
  fprintf(f, "\"origin\": \"%s\", \"command\": ", origin(p->origin));
  zmc_json_str(f, p->command);
  fprintf(f, ",\n      ");
  status(f, p);
  fprintf(f, ", \"start_s\": %.17g, \"end_s\": %.17g, ", p->start_s, p->end_s);
  u64(f, "threads", p->threads, ",\n      ");
  i64(f, "peak_requested_bytes", p->peak_requested, ", ");
  i64(f, "peak_held_bytes", p->peak_held, ", ");
  u64(f, "rss_peak_bytes", p->rss_peak, ", ");
  fprintf(f, "\"rss_peak_includes_children\": %s, \"oom_killed\": %s, ",
          p->rss_with_children ? "true" : "false", p->oom_killed ? "true" : "false");
  u64(f, "zmem_table_peak_bytes", p->table_peak, ",\n      ");
  zmc_heap_rss_json(f, p);
  fputs(",\n      ", f);
  u64(f, "total_requested_bytes", p->total_requested, ", ");
  u64(f, "total_held_bytes", p->total_held, ", ");
  u64(f, "allocations", p->allocations, ",\n      ");
  i64(f, "live_requested_bytes", p->live_requested, ", ");
  i64(f, "live_held_bytes", p->live_held, ", ");
  i64(f, "live_blocks", p->live_blocks, ",\n      ");
  i64(f, "inherited_requested_bytes", p->base_requested, ", ");
  i64(f, "inherited_held_bytes", p->base_held, ", ");
  i64(f, "inherited_blocks", p->base_blocks, ",\n      ");
  fprintf(f, "\"untrusted\": ");
  if (p->untrusted[0])
    zmc_json_str(f, p->untrusted);
  else
    fputs("null", f);
  fputs(", \"not_profiled\": ", f);
  if (zmc_left_words(p))
    zmc_json_str(f, zmc_left_words(p));
  else
    fputs("null", f);
  fputs(", \"bypass\": [", f);
  for (uint32_t bit = 1, n = 0; bit <= ZMR_BYPASS_KNOWN; bit <<= 1)
    if (p->bypass & bit) {
      fputs(n++ ? ", " : "", f);
      zmc_json_str(f, zmc_bypass_words(bit));
    }
  fputs("], ", f);
  u64(f, "unseen_frees", p->unseen_frees, ", ");
  u64(f, "sharers", p->sharers, ",\n      ");
  fprintf(f, "\"realloc\": {\"in_place\": %llu, \"moved\": %llu, \"shrunk\": %llu},\n",
          (unsigned long long)p->realloc_in_place, (unsigned long long)p->realloc_moved,
          (unsigned long long)p->realloc_shrunk);
  if (run->fault) {
    fprintf(f, "      \"fault\": {");
    u64(f, "injected", p->fault_hits, ", ");
    u64(f, "first_request", p->fault_first, ", \"site\": ");
    if (p->fault_site[0])
      zmc_json_str(f, p->fault_site);
    else
      fputs("null", f);
    fprintf(f, "},\n");
  }
  functions(f, p);
  histogram(f, p);
  zmc_sites_json_proc(f, run, (uint32_t)(p - run->procs));
  fprintf(f, "      \"timeline\": [");
  bool first = true;
  for (size_t k = 0; k < run->nsamples; k++) {
    const zmc_sample *s = &run->samples[k];
    if (s->proc != p->index)
      continue;
    fprintf(f, "%s[%.17g, %lld, %lld, %llu]", first ? "" : ", ", s->t,
            (long long)s->requested, (long long)s->held, (unsigned long long)s->rss);
    first = false;
  }
  fprintf(f, "]}%s\n", last ? "" : ",");
}

/* The signal sent to zmem itself and what zmem did (docs/run.md). */
static void zmem_signal(FILE *f, const zmc_run *run) {
  if (!run->stop_signal) {
    fprintf(f, "  \"zmem_signal\": null,\n");
    return;
  }
  fprintf(f, "  \"zmem_signal\": {\"signal\": %d, \"name\": \"SIG%s\", \"forwarded\": true, "
             "\"kill\": ", run->stop_signal, sigabbrev_np(run->stop_signal));
  if (run->kill_reason == ZMC_KILL_SECOND_SIGNAL)
    fprintf(f, "{\"why\": \"second signal\", \"signal\": %d, \"processes\": %u}",
            run->kill_signal, run->killed_procs);
  else if (run->kill_reason == ZMC_KILL_GRACE)
    fprintf(f, "{\"why\": \"grace period\", \"signal\": 0, \"processes\": %u}",
            run->killed_procs);
  else
    fprintf(f, "null");
  fprintf(f, "},\n");
}

int zmc_write_json(FILE *f, const zmc_run *run) {
  fprintf(f, "{\n  \"format\": \"zmem-run\",\n  \"schema\": 1,\n  \"command\": [");
  for (int i = 0; i < run->argc; i++) {
    if (i)
      fprintf(f, ", ");
    zmc_json_str(f, run->argv[i]);
  }
  fprintf(f, "],\n  \"exit_status\": %d, \"signal\": %d, \"wall_s\": %.17g, "
             "\"interval_ms\": %u, \"children\": %s,\n",
          run->exit_status, run->signal, run->wall_s, run->interval_ms,
          run->children ? "true" : "false");
  zmem_signal(f, run);
  if (run->fault) {
    fprintf(f, "  \"fault\": ");
    zmc_json_str(f, run->fault);
    fprintf(f, ",\n");
  }
  fprintf(f, "  \"oom_killer\": ");
  if (run->oom_cause[0])
    zmc_json_str(f, run->oom_cause);
  else
    fputs("null", f);
  fprintf(f, ",\n");
  zmc_sites_json_run(f, run);
  fprintf(f, "  \"record_lost\": ");
  if (run->record_lost)
    zmc_json_str(f, run->record_lost);
  else
    fputs("null", f);
  fprintf(f, ",\n  \"summary\": {");
  i64(f, "peak_requested_bytes", run->sum_peak_requested, ", ");
  i64(f, "peak_held_bytes", run->sum_peak_held, ", ");
  u64(f, "rss_peak_bytes", run->rss_peak, ", ");
  u64(f, "zmem_table_peak_bytes", run->table_peak, ",\n    ");
  u64(f, "total_requested_bytes", run->total_requested, ", ");
  u64(f, "allocations", run->allocations, ", ");
  u64(f, "frees", run->frees, ",\n    ");
  i64(f, "leaked_requested_bytes", run->leaked_requested, ", ");
  i64(f, "leaked_blocks", run->leaked_blocks, ", ");
  u64(f, "processes", run->nprocs, ", ");
  u64(f, "processes_not_recorded", run->lost_procs, ",\n    ");
  u64(f, "processes_untrusted", run->untrusted, ", ");
  u64(f, "processes_reattached", run->reattached, ", ");
  u64(f, "processes_sharing_record", run->sharers, ",\n    ");
  u64(f, "unseen_frees", run->unseen_frees, "},\n");
  fprintf(f, "  \"processes\": [\n");
  for (uint32_t i = 0; i < run->nprocs; i++)
    process(f, run, &run->procs[i], i + 1 == run->nprocs);
  fprintf(f, "  ]\n}\n");
  return ferror(f) ? -1 : 0;
}
