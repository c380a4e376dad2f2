/* --html FILE: the run as one page that works offline (docs/run.md). The
 * page is cli/html/report.html, compiled in (embed.cmake); the run goes
 * into it as one JSON blob where the template says @ZMEM_DATA@: the JSON
 * report, each process's RSS over time and, with sites, each process's
 * stacks. The script on the page draws everything from the blob. */
#define _GNU_SOURCE /* open_memstream */
#include "render.h"

#include "profile.h"
#include "sites_run.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

extern const char zmc_html_page[]; /* html_page.c, made by embed.cmake */

#define MARKER "@ZMEM_DATA@"

/* Each process's RSS samples: [[t, bytes], ...] in process order. */
static void rss(FILE *f, const zmc_run *run) {
  fputs("[", f);
  for (uint32_t i = 0; i < run->nprocs; i++) {
    fputs(i ? ",\n[" : "[", f);
    bool first = true;
    for (size_t k = 0; k < run->nsamples; k++) {
      const zmc_sample *s = &run->samples[k];
      if (s->proc != run->procs[i].index || !s->rss)
        continue;
      fprintf(f, "%s[%.4f,%" PRIu64 "]", first ? "" : ",", s->t, s->rss);
      first = false;
    }
    fputs("]", f);
  }
  fputs("]", f);
}

/* A stack's frames, outermost first (a stack of depth 0, the table's
 * overflow, has its one location). */
static uint32_t nframes(const zm__prof_stack *s) {
  return s->depth ? s->depth : 1;
}

static uint32_t frame(const zm__prof_stack *s, uint32_t j) {
  return s->loc[nframes(s) - 1 - j];
}

static int by_frames(const void *a, const void *b, void *prof) {
  const zm__prof *p = prof;
  const zm__prof_stack *x = &p->stacks[*(const uint32_t *)a];
  const zm__prof_stack *y = &p->stacks[*(const uint32_t *)b];
  for (uint32_t j = 0; j < nframes(x) && j < nframes(y); j++)
    if (frame(x, j) != frame(y, j))
      return frame(x, j) < frame(y, j) ? -1 : 1;
  return nframes(x) < nframes(y) ? -1 : nframes(x) > nframes(y);
}

/* The stacks, sorted by their frames so that each shares the most
 * outermost frames with the one before it: [peak bytes, total bytes,
 * leaked bytes, blocks allocated, frames shared with the previous stack,
 * its other frames...]. That makes the page a third of its size on
 * python3's deep stacks. */
static int stacks(FILE *f, const zm__prof *p) {
  uint32_t *order = malloc((p->nstacks ? p->nstacks : 1) * sizeof *order);
  if (!order)
    return -1;
  for (uint32_t i = 0; i < p->nstacks; i++)
    order[i] = i;
  qsort_r(order, p->nstacks, sizeof *order, by_frames, (void *)p);
  const zm__prof_stack *prev = NULL;
  for (uint32_t i = 0; i < p->nstacks; i++) {
    const zm__prof_stack *s = &p->stacks[order[i]];
    uint32_t shared = 0;
    while (prev && shared < nframes(s) && shared < nframes(prev) &&
           frame(s, shared) == frame(prev, shared))
      shared++;
    fprintf(f, "%s[%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRIu32, i ? ",\n" : "",
            s->v[ZM__PV_PEAK_BYTES], s->v[ZM__PV_ALLOC_BYTES], s->v[ZM__PV_LIVE_BYTES],
            s->v[ZM__PV_ALLOC_COUNT], shared);
    for (uint32_t j = shared; j < nframes(s); j++)
      fprintf(f, ",%" PRIu32, frame(s, j));
    fputs("]", f);
    prev = s;
  }
  free(order);
  return 0;
}

/* A profile: its locations ("names" and "files", "file:line") and its
 * stacks. */
static int profile(FILE *f, const zm__prof *p) {
  fputs("{\"names\": [", f);
  for (uint32_t i = 0; i < p->nlocs; i++) {
    fputs(i ? "," : "", f);
    zmc_json_str(f, p->locs[i].name ? p->locs[i].name : "?");
  }
  fputs("],\n\"files\": [", f);
  for (uint32_t i = 0; i < p->nlocs; i++) {
    const zm__prof_loc *l = &p->locs[i];
    char at[1024] = "";
    if (l->file && l->file[0])
      snprintf(at, sizeof at, l->line > 0 ? "%s:%d" : "%s", l->file, l->line);
    fputs(i ? "," : "", f);
    zmc_json_str(f, at);
  }
  fputs("],\n\"stacks\": [", f);
  int r = stacks(f, p);
  fputs("]}", f);
  return r;
}

/* Per process: its profile, the reason it has none, or null. */
static int sites(FILE *f, const zmc_run *run) {
  if (!run->sites) {
    fputs("null", f);
    return 0;
  }
  int r = 0;
  uint64_t sample;
  uint32_t without;
  zmc_sites_counts(run, &sample, &without);
  fprintf(f, "{\"sample\": %" PRIu64 ", \"processes\": [", sample);
  for (uint32_t i = 0; i < run->nprocs; i++) {
    const char *why;
    const zm__prof *p = zmc_sites_proc(run, i, &why);
    fputs(i ? ",\n" : "\n", f);
    if (p)
      r |= profile(f, p);
    else if (why) {
      fputs("{\"why\": ", f);
      zmc_json_str(f, why);
      fputs("}", f);
    } else
      fputs("null", f);
  }
  fputs("]}", f);
  return r;
}

/* The blob as a <script> element may hold it: every '<', '>' and '&' (only
 * ever inside a JSON string) as a \u escape, so that nothing the program
 * named (its command line, its symbols) can close the element or open a
 * comment. The JSON writers escape every byte above ASCII. */
void zmc_html_script_safe(FILE *out, const char *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '<' || s[i] == '>' || s[i] == '&')
      fprintf(out, "\\u%04x", (unsigned char)s[i]);
    else
      putc(s[i], out);
  }
}

int zmc_write_html(FILE *out, const zmc_run *run) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f)
    return -1;
  fputs("{\"report\": ", f);
  int r = zmc_write_json(f, run);
  fputs(", \"rss\": ", f);
  rss(f, run);
  fputs(",\n\"sites\": ", f);
  r |= sites(f, run);
  fputs("}", f);
  if (fclose(f) != 0 || r != 0) {
    free(buf);
    return -1;
  }
  const char *at = strstr(zmc_html_page, MARKER);
  fwrite(zmc_html_page, 1, (size_t)(at - zmc_html_page), out);
  zmc_html_script_safe(out, buf, len);
  fputs(at + strlen(MARKER), out);
  free(buf);
  return ferror(out) ? -1 : 0;
}
