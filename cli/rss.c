/* A process's own RSS peak, and its heap reconciled with its RSS.
 *
 * Each row's RSS peak is its own: VmHWM, which the process reads as it
 * exits and the launcher reads while it runs (exec starts a new one).
 * waitpid's ru_maxrss is not: the kernel folds into it the peaks of the
 * images the process exec'd from and of every child it reaped, so it is
 * used only for a killed process, and marked when it may include others.
 *
 * Heap against RSS: RSS = held + retained + anonymous outside malloc +
 * stacks + file-backed + unexplained; docs/run.md gives each part's
 * source. */
#include "rss.h"
#include "escape.h"
#include "proctree.h"
#include "summary.h"

#include <inttypes.h>
#include <string.h>

void zmc_rss_read(zmc_rss_track *t, int pid, double when, int64_t requested,
                  int64_t held) {
  char buf[4096];
  if (zmc_proc_read(pid, "status", buf, sizeof buf) <= 0)
    return;
  uint64_t hwm = zmc_status_bytes(buf, "VmHWM:");
  if (hwm > t->hwm)
    t->hwm = hwm;
  uint64_t file = zmc_status_bytes(buf, "RssFile:") + zmc_status_bytes(buf, "RssShmem:");
  zmc_rss_reading r = {when, (int64_t)zmc_status_bytes(buf, "VmRSS:"), (int64_t)file,
                       requested, held};
  if (!r.rss)
    return; /* a zombie, or a kernel thread */
  if (!t->seen || r.rss > t->peak.rss)
    t->peak = r;
  t->last = r;
  t->seen = true;
}

static int64_t clamp0(int64_t v) { return v < 0 ? 0 : v; }

/* The parts the launcher can see from outside: the rest is unexplained. */
static zmc_heap_rss from_reading(const zmc_rss_reading *r) {
  return (zmc_heap_rss){.known = true, .t = r->t, .rss = r->rss,
                        .requested = r->requested, .held = r->held, .retained = -1,
                        .anon_outside = -1, .stacks = -1, .file = r->file,
                        .unexplained = r->rss - r->held - r->file};
}

/* A word the process wrote: untrusted, so never negative here. */
static int64_t word(const zmc_proc *p, int k) {
  uint64_t w = p->heap_rss_words[k];
  return w > (uint64_t)INT64_MAX ? 0 : (int64_t)w;
}

/* The process's own reading at exit (preload/heaprss.c). */
static zmc_heap_rss from_exit(const zmc_proc *p) {
  zmc_heap_rss h = {.known = true, .in_process = true, .t = p->end_s,
                    .rss = word(p, ZMR_HR_RSS), .requested = p->live_requested,
                    .held = p->live_held, .retained = -1, .anon_outside = -1,
                    .stacks = word(p, ZMR_HR_STACKS), .file = word(p, ZMR_HR_FILE)};
  /* Arena pages resident beyond the blocks held there: free blocks, the
   * allocator's headers, the unused top. The blocks mapped on their own
   * are held, and not among the other anonymous mappings. */
  int64_t in_arenas = h.held - word(p, ZMR_HR_MMAPPED_USABLE);
  h.retained = clamp0(word(p, ZMR_HR_ARENAS) - in_arenas);
  h.anon_outside = word(p, ZMR_HR_ANON_OTHER);
  h.unexplained = h.rss - h.held - h.file - h.stacks - h.retained - h.anon_outside;
  return h;
}

void zmc_rss_finish(zmc_proc *p, const zmc_rss_track *t) {
  if (t->hwm > p->rss_peak)
    p->rss_peak = t->hwm;
  bool exited = p->heap_rss_words[ZMR_HR_VALID] == 1 && p->state == ZMR_STATE_EXITED;
  if (t->seen) {
    p->at_rss_peak = from_reading(&t->peak);
    p->at_end = from_reading(&t->last);
  }
  if (exited) {
    p->at_end = from_exit(p);
    /* Within 1% of the highest reading: every part is known at exit. */
    if (!t->seen || p->at_end.rss * 100 >= t->peak.rss * 99)
      p->at_rss_peak = p->at_end;
  }
}

/* Whether another row is this one's child, or this one an exec'd image. */
static bool has_others_in_wait(const zmc_run *run, const zmc_proc *p) {
  if (p->origin == ZMR_ORIGIN_EXEC)
    return true;
  for (uint32_t i = 0; i < run->nprocs; i++)
    if (run->procs[i].parent_index == p->index && i != p->index)
      return true;
  return false;
}

void zmc_rss_from_wait(zmc_run *run, int pid, uint64_t maxrss) {
  for (uint32_t i = 0; i < run->nprocs; i++) {
    zmc_proc *p = &run->procs[i];
    /* An exited process read its own peak; only a killed one lacks it. */
    if (p->pid != pid || p->state != ZMR_STATE_RUNNING || maxrss <= p->rss_peak)
      continue;
    if (!has_others_in_wait(run, p)) {
      p->rss_peak = maxrss;
    } else if (!p->rss_peak) {
      p->rss_peak = maxrss;
      p->rss_with_children = true;
    }
  }
}

/* ------------------------------------------------------------ rendering */

/* "-" not known at that moment, "?" not readable then, else the size
 * (signed for unexplained). */
static const char *cell(char *buf, size_t cap, int64_t v, bool known, bool signed_) {
  if (!known)
    return "-";
  if (v < 0 && !signed_)
    return "?";
  char h[32];
  zmc_human(h, sizeof h, (double)(v < 0 ? -v : v));
  snprintf(buf, cap, "%s%s", v < 0 ? "-" : "", h);
  return buf;
}

static void text_line(FILE *f, const char *label, int64_t a, bool ka, int64_t b, bool kb,
                      bool signed_) {
  char x[40], y[40];
  fprintf(f, "  %-28s %12s %12s\n", label, cell(x, sizeof x, a, ka, signed_),
          cell(y, sizeof y, b, kb, signed_));
}

static void proc_table(FILE *f, const zmc_proc *p) {
  const zmc_heap_rss *a = &p->at_rss_peak, *b = &p->at_end;
  char cmd[61];
  fprintf(f, "heap against RSS: pid %d %s\n  %-28s %12s %12s\n", p->pid,
          zmc_escaped(cmd, sizeof cmd, p->command), "",
          "at RSS peak", p->at_end.in_process ? "at exit" : "last seen");
  struct { const char *label; int64_t x, y; bool s; } rows[] = {
      {"RSS", a->rss, b->rss, false},
      {"requested (live)", a->requested, b->requested, false},
      {"held by the allocator", a->held, b->held, false},
      {"retained free by malloc", a->retained, b->retained, false},
      {"anonymous outside malloc", a->anon_outside, b->anon_outside, false},
      {"stacks", a->stacks, b->stacks, false},
      {"file-backed and shared", a->file, b->file, false},
      {"unexplained", a->unexplained, b->unexplained, true},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
    text_line(f, rows[i].label, rows[i].x, a->known, rows[i].y, b->known, rows[i].s);
  if ((a->known && a->retained < 0) || (b->known && b->retained < 0))
    fprintf(f, "  (?: not readable then; those bytes are inside unexplained)\n");
}

/* The process with the largest RSS peak, and every one the OOM killer
 * ended; JSON has them all. */
void zmc_heap_rss_text(FILE *f, const zmc_run *run) {
  const zmc_proc *top = NULL;
  for (uint32_t i = 0; i < run->nprocs; i++) {
    const zmc_proc *p = &run->procs[i];
    if ((p->at_rss_peak.known || p->at_end.known) && !p->untrusted[0] &&
        (!top || p->rss_peak > top->rss_peak))
      top = p;
  }
  for (uint32_t i = 0; i < run->nprocs; i++) {
    const zmc_proc *p = &run->procs[i];
    if (p == top || (p->oom_killed && (p->at_rss_peak.known || p->at_end.known)))
      proc_table(f, p);
  }
}

static void json_part(FILE *f, const char *k, int64_t v, const char *sep) {
  if (v < 0 && strcmp(k, "unexplained_bytes"))
    fprintf(f, "\"%s\": null%s", k, sep);
  else
    fprintf(f, "\"%s\": %" PRId64 "%s", k, v, sep);
}

static void json_moment(FILE *f, const char *key, const zmc_heap_rss *h, const char *sep) {
  if (!h->known) {
    fprintf(f, "\"%s\": null%s", key, sep);
    return;
  }
  fprintf(f, "\"%s\": {\"t_s\": %.6f, \"source\": \"%s\", ", key, h->t,
          h->in_process ? "process" : "launcher");
  json_part(f, "rss_bytes", h->rss, ", ");
  json_part(f, "requested_bytes", h->requested, ", ");
  json_part(f, "held_bytes", h->held, ", ");
  json_part(f, "retained_bytes", h->retained, ", ");
  json_part(f, "anon_outside_malloc_bytes", h->anon_outside, ", ");
  json_part(f, "stacks_bytes", h->stacks, ", ");
  json_part(f, "file_bytes", h->file, ", ");
  json_part(f, "unexplained_bytes", h->unexplained, "}");
  fputs(sep, f);
}

void zmc_heap_rss_json(FILE *f, const zmc_proc *p) {
  fprintf(f, "\"heap_vs_rss\": {");
  json_moment(f, "at_rss_peak", &p->at_rss_peak, ", ");
  json_moment(f, "at_end", &p->at_end, "}");
}
