/* --trace FILE.json: the timeline as Chrome trace-event counters ("ph":
 * "C"), one counter track per process, which chrome://tracing and Perfetto
 * open. Timestamps are microseconds since the program started. */
#include "render.h"

static void name_event(FILE *f, const zmc_proc *p) {
  fprintf(f, "  {\"name\": \"process_name\", \"ph\": \"M\", \"pid\": %d, \"tid\": 0, "
             "\"args\": {\"name\": \"%d ", p->pid, p->pid);
  for (const char *s = p->command; *s && s - p->command < 60; s++)
    if (*s >= 0x20 && *s < 0x7f && *s != '"' && *s != '\\')
      fputc(*s, f);
  fprintf(f, "\"}},\n");
}

int zmc_write_trace(FILE *f, const zmc_run *run) {
  fprintf(f, "{\"displayTimeUnit\": \"ms\", \"traceEvents\": [\n");
  for (uint32_t i = 0; i < run->nprocs; i++)
    name_event(f, &run->procs[i]);
  for (size_t k = 0; k < run->nsamples; k++) {
    const zmc_sample *s = &run->samples[k];
    if (s->proc >= run->nprocs)
      continue;
    fprintf(f, "  {\"name\": \"heap\", \"ph\": \"C\", \"ts\": %.0f, \"pid\": %d, "
               "\"args\": {\"requested_bytes\": %lld, \"held_bytes\": %lld}},\n",
            s->t * 1e6, run->procs[s->proc].pid, (long long)s->requested,
            (long long)s->held);
  }
  /* A closing event with no comma after it keeps the array valid JSON. */
  fprintf(f, "  {\"name\": \"end\", \"ph\": \"i\", \"s\": \"g\", \"ts\": %.0f, "
             "\"pid\": %d, \"tid\": 0}\n]}\n",
          run->wall_s * 1e6, run->nprocs ? run->procs[0].pid : 0);
  return ferror(f) ? -1 : 0;
}
