/* The outputs of `zmem sweep`: see sweep.h. */
#define _GNU_SOURCE /* sigabbrev_np */
#include "sweep.h"

#include "escape.h"
#include "render.h"
#include "summary.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static const char *const kinds[ZMC_NKINDS] = {"clean", "crash", "hang", "leak", "error",
                                              "changed", "handled"};

const char *zmc_kind_name(int kind) {
  return kind >= 0 && kind < ZMC_NKINDS ? kinds[kind] : "?";
}

bool zmc_is_finding(int kind) { return kind != ZMC_CLEAN && kind != ZMC_HANDLED; }

/* A row in the table: a finding, or a step that was not reproducible. */
static bool shown(const zmc_step *r) {
  return r->ran && (zmc_is_finding(r->kind) || r->repro != ZMC_REPRO_OK);
}

const char *zmc_repro_note(const zmc_step *r, char *buf, size_t cap) {
  unsigned long long k = r->step;
  if (r->repro == ZMC_REPRO_MISSED)
    snprintf(buf, cap, "did not reach request %llu, which every baseline run made", k);
  else if (r->repro == ZMC_REPRO_EXTRA)
    snprintf(buf, cap, "reached request %llu, which no baseline run made", k);
  else if (r->repro == ZMC_REPRO_DISAGREE)
    snprintf(buf, cap, "the baseline runs disagree about request %llu", k);
  else
    return NULL;
  return buf;
}

static const char *status(const zmc_step *r, char *buf, size_t cap) {
  if (r->kind == ZMC_HANG)
    snprintf(buf, cap, "killed");
  else if (r->launch_rc)
    snprintf(buf, cap, "zmem %d", r->launch_rc);
  else if (r->signal)
    snprintf(buf, cap, "SIG%s", sigabbrev_np(r->signal) ? sigabbrev_np(r->signal) : "?");
  else
    snprintf(buf, cap, "exit %d", r->exit_status);
  return buf;
}

static void baseline(FILE *f, const zmc_sweep *s) {
  char b[32];
  const zmc_step *r = &s->baseline;
  fprintf(f, "zmem sweep:");
  zmc_put_argv(f, s->argv, s->argc);
  fputc('\n', f);
  fprintf(f, "  baseline: %llu allocation requests, exit %d, %lld blocks (%s) live at "
             "exit, %.3f s\n",
          (unsigned long long)r->requests, r->exit_status, (long long)r->live_blocks,
          zmc_human(b, sizeof b, (double)r->live_bytes), r->wall_s);
  if (s->base_lo == s->base_hi)
    return;
  fprintf(f, "  baseline runs disagree:");
  for (unsigned i = 0; i < s->nbaselines; i++)
    fprintf(f, "%s %llu", i ? "," : "", (unsigned long long)s->baselines[i].requests);
  fprintf(f, " allocation requests\n");
}

static void row(FILE *f, const zmc_sweep *s, const zmc_step *r) {
  char st[32], more[128] = "", note[96];
  if (r->kind == ZMC_LEAK)
    snprintf(more, sizeof more, "+%lld blocks",
             (long long)(r->live_blocks - s->baseline.live_blocks));
  if (r->kind == ZMC_CHANGED)
    snprintf(more, sizeof more, "stdout differs from the baseline's");
  if (zmc_repro_note(r, note, sizeof note))
    snprintf(more + strlen(more), sizeof more - strlen(more), "%snot reproducible: %s",
             more[0] ? "  " : "", note);
  bool details = more[0] || r->site[0];
  fprintf(f, "  %6llu  %-7s  %-*s", (unsigned long long)r->step, zmc_kind_name(r->kind),
          details ? 8 : 0, status(r, st, sizeof st));
  if (details) {
    fprintf(f, "  %s%s%s", more, more[0] && r->site[0] ? "  " : "", r->site[0] ? "at " : "");
    zmc_put_escaped(f, r->site, SIZE_MAX);
  }
  fputc('\n', f);
  if (r->kind == ZMC_CRASH && r->tail[0]) {
    const char *line = r->tail; /* the last lines of its output, indented */
    for (int n = 0; *line && n < 3; n++) {
      size_t len = strcspn(line, "\n");
      fputs("          | ", f);
      zmc_put_escaped(f, line, len < 150 ? len : 150); /* the program's output */
      fputc('\n', f);
      line += len + (line[len] == '\n');
    }
  }
  for (const char *line = r->check; line && *line;) { /* valgrind's first error */
    size_t len = strcspn(line, "\n");
    fputs(line == r->check ? "          valgrind: " : "          ", f);
    zmc_put_escaped(f, line, len < 200 ? len : 200);
    fputc('\n', f);
    line += len + (line[len] == '\n');
  }
}

/* Which steps ran, for the summary: "1 to 6", "by site, 1 per site", ... */
static const char *steps_swept(const zmc_sweep *s, char *buf, size_t cap) {
  size_t n = 0;
  if (!s->plan || !s->by_site)
    n = (size_t)snprintf(buf, cap, "%llu to %llu", (unsigned long long)s->from,
                         (unsigned long long)(s->plan && s->nplan ? s->plan[s->nplan - 1]
                                              : s->from + (s->nsteps ? s->nsteps - 1 : 0)));
  else
    n = (size_t)snprintf(buf, cap, "by site, %u per site", s->per_site);
  if (s->shallow && n < cap)
    n += (size_t)snprintf(buf + n, cap - n, "; shallow: %llu of %llu, seed %llu",
                          (unsigned long long)s->nplan, (unsigned long long)s->candidates,
                          (unsigned long long)s->seed);
  if (s->persistent && n < cap)
    snprintf(buf + n, cap - n, "; persistent");
  return buf;
}

void zmc_sweep_table(FILE *f, const zmc_sweep *s) {
  baseline(f, s);
  uint64_t rows = 0;
  /* Silent wrong results first: the findings a test suite is likeliest to miss. */
  for (int pass = 0; pass < 2; pass++)
    for (uint64_t i = 0; i < s->nsteps; i++) {
      const zmc_step *r = &s->steps[i];
      if (!shown(r) || (r->kind == ZMC_CHANGED) != (pass == 0))
        continue;
      if (!rows++)
        fprintf(f, "  %6s  %-7s  %-8s  %s\n", "step", "result", "status", "details");
      row(f, s, r);
    }
  uint64_t ran = 0;
  for (int k = 0; k < ZMC_NKINDS; k++)
    ran += s->counts[k];
  char which[160];
  fprintf(f, "%llu step%s (%s), %.1f s: %llu changed, %llu crash, %llu hang, "
             "%llu leak, %llu error, %llu handled, %llu clean%s",
          (unsigned long long)ran, ran == 1 ? "" : "s", steps_swept(s, which, sizeof which),
          s->wall_s,
          (unsigned long long)s->counts[ZMC_CHANGED], (unsigned long long)s->counts[ZMC_CRASH],
          (unsigned long long)s->counts[ZMC_HANG], (unsigned long long)s->counts[ZMC_LEAK],
          (unsigned long long)s->counts[ZMC_ERROR], (unsigned long long)s->counts[ZMC_HANDLED],
          (unsigned long long)s->counts[ZMC_CLEAN],
          s->interrupted ? "; interrupted"
          : s->stuck     ? "; steps could not be started"
          : s->ended || s->plan ? ""
                                : "; stopped at --to before a step ran with no failure");
  if (s->output_varies && !s->ignore_output)
    fputs("; outputs not compared (they differ between the baseline runs)", f);
  if (s->unreproducible)
    fprintf(f, "; incomplete: %llu step%s not reproducible (the program's requests "
               "differ from run to run)",
            (unsigned long long)s->unreproducible, s->unreproducible == 1 ? "" : "s");
  fputc('\n', f);
  if (s->nsites)
    fprintf(f, "coverage: %llu of %llu call sites had a request failed\n",
            (unsigned long long)s->sites_failed, (unsigned long long)s->nsites);
}

/* ---------------------------------------------------------------- JSON */

static void step_json(FILE *f, const zmc_step *r, const char *end) {
  fprintf(f, "{\"step\": %llu, \"result\": \"%s\", ", (unsigned long long)r->step,
          zmc_kind_name(r->kind));
  if (r->kind == ZMC_HANG || r->launch_rc)
    fprintf(f, "\"exit_status\": null, \"signal\": null, ");
  else if (r->signal)
    fprintf(f, "\"exit_status\": null, \"signal\": \"SIG%s\", ",
            sigabbrev_np(r->signal) ? sigabbrev_np(r->signal) : "?");
  else
    fprintf(f, "\"exit_status\": %d, \"signal\": null, ", r->exit_status);
  fprintf(f, "\"injected\": %llu, \"first_request\": %llu, \"requests\": %llu, "
             "\"live_blocks\": %lld, \"live_bytes\": %lld, \"wall_s\": %.6f, \"site\": ",
          (unsigned long long)r->injected, (unsigned long long)r->first_request,
          (unsigned long long)r->requests, (long long)r->live_blocks,
          (long long)r->live_bytes, r->wall_s);
  if (r->site[0])
    zmc_json_str(f, r->site);
  else
    fputs("null", f);
  char note[96];
  const char *why = r->step ? zmc_repro_note(r, note, sizeof note) : NULL;
  fprintf(f, ", \"reproducible\": %s, \"not_reproducible_why\": ", why ? "false" : "true");
  if (why)
    zmc_json_str(f, why);
  else
    fputs("null", f);
  fputs(", \"output_tail\": ", f);
  zmc_json_str(f, r->tail);
  fputs(", \"valgrind\": ", f);
  if (r->check)
    zmc_json_str(f, r->check);
  else
    fputs("null", f);
  fprintf(f, "}%s", end);
}

int zmc_sweep_json(FILE *f, const zmc_sweep *s) {
  fprintf(f, "{\n  \"format\": \"zmem-sweep\",\n  \"schema\": 2,\n  \"command\": [");
  for (int i = 0; i < s->argc; i++) {
    if (i)
      fputs(", ", f);
    zmc_json_str(f, s->argv[i]);
  }
  fprintf(f, "],\n  \"from\": %llu, \"to\": %llu, \"timeout_s\": %.3f, \"jobs\": %u, "
             "\"complete\": %s, \"interrupted\": %s, \"wall_s\": %.3f,\n"
             "  \"outputs_compared\": %s,\n",
          (unsigned long long)s->from, (unsigned long long)s->to, s->timeout_s, s->jobs,
          s->complete ? "true" : "false", s->interrupted ? "true" : "false", s->wall_s,
          s->ignore_output || s->output_varies ? "false" : "true");
  fprintf(f, "  \"mode\": {\"by_site\": %s, \"per_site\": %u, \"site_frames\": %d, "
             "\"persistent\": %s, \"shallow\": %llu, \"seed\": %llu},\n",
          s->by_site ? "true" : "false", s->by_site ? s->per_site : 0, s->site_frames,
          s->persistent ? "true" : "false", (unsigned long long)s->shallow,
          (unsigned long long)s->seed);
  fprintf(f, "  \"check\": %s, \"checked\": %llu,\n",
          s->check_ran ? "\"valgrind\"" : "null", (unsigned long long)s->checked);
  if (s->nsites)
    fprintf(f, "  \"coverage\": {\"sites_seen\": %llu, \"sites_failed\": %llu},\n",
            (unsigned long long)s->nsites, (unsigned long long)s->sites_failed);
  else
    fputs("  \"coverage\": null,\n", f);
  fputs("  \"incomplete_reason\": ", f);
  if (s->incomplete)
    zmc_json_str(f, s->incomplete);
  else
    fputs("null", f);
  fputs(",\n  \"baseline\": ", f);
  step_json(f, &s->baseline, ",\n");
  fputs("  \"baseline_requests\": [", f);
  for (unsigned i = 0; i < s->nbaselines; i++)
    fprintf(f, "%s%llu", i ? ", " : "", (unsigned long long)s->baselines[i].requests);
  fputs("],\n  \"not_reproducible\": [", f);
  uint64_t listed = 0;
  for (uint64_t i = 0; i < s->nsteps; i++)
    if (s->steps[i].ran && s->steps[i].repro != ZMC_REPRO_OK)
      fprintf(f, "%s%llu", listed++ ? ", " : "", (unsigned long long)s->steps[i].step);
  fputs("],\n", f);
  fputs("  \"counts\": {", f);
  for (int k = 0; k < ZMC_NKINDS; k++)
    fprintf(f, "%s\"%s\": %llu", k ? ", " : "", kinds[k], (unsigned long long)s->counts[k]);
  fputs("},\n  \"steps\": [\n", f);
  uint64_t left = 0;
  for (uint64_t i = 0; i < s->nsteps; i++)
    left += s->steps[i].ran;
  for (uint64_t i = 0; i < s->nsteps; i++)
    if (s->steps[i].ran) {
      fputs("    ", f);
      step_json(f, &s->steps[i], --left ? ",\n" : "\n");
    }
  fputs("  ]\n}\n", f);
  return ferror(f) ? -1 : 0;
}

/* ------------------------------------------------------------ progress */

/* The counts so far, after "zmem sweep: ". */
static void progress_line(FILE *f, const zmc_sweep *s, int64_t done) {
  uint64_t total = s->plan ? s->nplan : s->to ? s->to - s->from + 1 : 0;
  if (!total)
    total = s->last ? s->last - s->from + 1 : s->base_hi + 1;
  const uint64_t *n = s->counts;
  fprintf(f, "zmem sweep: %lld of %llu step%s done; %llu changed, %llu crash, %llu hang, "
             "%llu leak, %llu error",
          (long long)done, (unsigned long long)total, total == 1 ? "" : "s",
          (unsigned long long)n[ZMC_CHANGED], (unsigned long long)n[ZMC_CRASH],
          (unsigned long long)n[ZMC_HANG], (unsigned long long)n[ZMC_LEAK],
          (unsigned long long)n[ZMC_ERROR]);
}

#define PROGRESS_LOG_S 10.0 /* stderr not a terminal: a line this often */

void zmc_sweep_progress(const zmc_sweep *s, int64_t done, double now) {
  static int tty = -1;
  static int64_t shown = -1;
  static double logged = -1;
  if (tty < 0)
    tty = isatty(2);
  if (!tty) { /* a log: a whole line now and then, that a reader of it sees moving */
    if (logged < 0)
      logged = now;
    if (done >= 0 && now - logged >= PROGRESS_LOG_S) {
      logged = now;
      progress_line(stderr, s, done);
      fputc('\n', stderr);
    }
    return;
  }
  if (done == shown)
    return;
  shown = done;
  fputs("\r\033[K", stderr);
  if (done >= 0)
    progress_line(stderr, s, done);
}
