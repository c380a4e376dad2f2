/* Top sites in the text report: see topsites.h. */
#include "topsites.h"

#include "escape.h"
#include "flame.h"

#include <inttypes.h>
#include <string.h>

static void frame(const zm__prof_loc *l, FILE *out) {
  const char *base = l->file ? strrchr(l->file, '/') : NULL;
  base = base ? base + 1 : l->file;
  /* Names and paths come from the program's files: escaped. */
  zmc_put_escaped(out, l->name ? l->name : "?", SIZE_MAX);
  if (l->line > 0 && base && base[0]) {
    fputc(' ', out);
    zmc_put_escaped(out, base, SIZE_MAX);
    fprintf(out, ":%d", l->line);
  }
}

static void list(const zm__prof *p, FILE *out, int kb, int kc, const char *what,
                 unsigned n, unsigned frames) {
  uint32_t top[64];
  if (n > 64)
    n = 64;
  int64_t total = zm__prof_total(p, kb);
  uint32_t got = zm__prof_top(p, kb, top, n);
  char size[32];
  fprintf(out, "top sites %s: %s (%" PRId64 " B)%s\n", what,
          zm__flame_size(total, size, sizeof size), total,
          p->weighted ? ", estimated from samples" : "");
  if (got == 0) {
    fputs("  (none)\n", out);
    return;
  }
  for (uint32_t i = 0; i < got; i++) {
    const zm__prof_stack *s = &p->stacks[top[i]];
    fprintf(out, "  %2u. %10s %5.1f%%  %" PRId64 " block%s\n", i + 1,
            zm__flame_size(s->v[kb], size, sizeof size),
            total ? 100.0 * (double)s->v[kb] / (double)total : 0.0, s->v[kc],
            s->v[kc] == 1 ? "" : "s");
    uint32_t depth = s->depth ? s->depth : 1;
    for (uint32_t d = 0; d < depth && d < frames; d++) {
      fputs("        ", out);
      frame(&p->locs[s->loc[d]], out);
      putc('\n', out);
    }
    if (depth > frames)
      fprintf(out, "        ... %u more frames\n", depth - frames);
  }
}

void zm__topsites_write(const zm__prof *p, FILE *out, unsigned n, unsigned frames) {
  list(p, out, ZM__PV_PEAK_BYTES, ZM__PV_PEAK_COUNT, "at the peak", n, frames);
  list(p, out, ZM__PV_ALLOC_BYTES, ZM__PV_ALLOC_COUNT, "by total allocated", n, frames);
  list(p, out, ZM__PV_LIVE_BYTES, ZM__PV_LIVE_COUNT, "leaked at exit", n, frames);
  if (p->turned_away)
    fprintf(out, "  (the stack table was full: %" PRIu64 " allocations were counted "
            "under \"%s\")\n", p->turned_away, ZM__PROF_OTHER);
}

void zm__topsites_brief(const zm__prof *p, int k, FILE *out, unsigned n) {
  uint32_t top[16];
  if (n > 16)
    n = 16;
  uint32_t got = zm__prof_top(p, k, top, n);
  char size[32];
  for (uint32_t i = 0; i < got; i++) {
    const zm__prof_stack *s = &p->stacks[top[i]];
    fprintf(out, "  %u. %s  ", i + 1, zm__flame_size(s->v[k], size, sizeof size));
    uint32_t depth = s->depth ? s->depth : 1;
    for (uint32_t d = 0; d < depth && d < 2; d++) {
      if (d)
        fputs(" < ", out);
      frame(&p->locs[s->loc[d]], out);
    }
    putc('\n', out);
  }
}
