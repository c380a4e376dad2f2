/* The hint for missing symbols: see symhint.h. */
#define _GNU_SOURCE /* open_memstream */
#include "symhint.h"

#include "escape.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOP 10      /* stacks per list, as the text report shows */
#define FRAMES 4    /* frames per stack, as the text report shows */
#define MODULES 5   /* modules named; more are counted */

typedef struct found {
  zm__sym_module m[MODULES];
  uint8_t id[MODULES][64];
  unsigned n, more;
} found;

static void note(found *f, zm__symtab *sym, uint64_t pc) {
  zm__sym_module m;
  if (zm__sym_module_at(sym, pc, &m) != 0)
    return;
  for (unsigned i = 0; i < f->n; i++)
    if (!strcmp(f->m[i].path, m.path))
      return;
  if (f->n == MODULES) {
    f->more++;
    return;
  }
  if (m.build_id)
    memcpy(f->id[f->n], m.build_id, m.build_id_len);
  m.build_id = f->id[f->n];
  f->m[f->n++] = m;
}

static void scan(const zm__prof *p, zm__symtab *sym, found *f) {
  static const int lists[] = {ZM__PV_PEAK_BYTES, ZM__PV_ALLOC_BYTES, ZM__PV_LIVE_BYTES};
  for (unsigned k = 0; k < 3; k++) {
    uint32_t top[TOP];
    uint32_t got = zm__prof_top(p, lists[k], top, TOP);
    for (uint32_t i = 0; i < got; i++) {
      const zm__prof_stack *s = &p->stacks[top[i]];
      for (uint32_t d = 0; d < s->depth && d < FRAMES; d++)
        if (p->locs[s->loc[d]].status == ZM__SYM_NO_SYMBOL)
          note(f, sym, p->locs[s->loc[d]].pc);
    }
  }
}

static void write_hint(FILE *out, const found *f) {
  fprintf(out, "  no symbols for %u module%s among the top sites:", f->n + f->more,
          f->n + f->more == 1 ? "" : "s");
  for (unsigned i = 0; i < f->n; i++) {
    const char *slash = strrchr(f->m[i].path, '/');
    char name[200];
    fprintf(out, "%s %s", i ? "," : "",
            zmc_escaped(name, sizeof name, slash ? slash + 1 : f->m[i].path));
    if (f->m[i].build_id_len) {
      fputs(" (build-id ", out);
      for (size_t b = 0; b < f->m[i].build_id_len; b++)
        fprintf(out, "%02x", f->m[i].build_id[b]);
      fputc(')', out);
    }
  }
  if (f->more)
    fprintf(out, " and %u more", f->more);
  const char *urls = getenv("DEBUGINFOD_URLS");
  if (urls && urls[0])
    fputs("\n    DEBUGINFOD_URLS is set, and its servers had no debug information"
          " for these build-ids;", out);
  else
    fputs("\n    set DEBUGINFOD_URLS (e.g. https://debuginfod.debian.net) to fetch"
          " their debug information by build-id, or", out);
  fputs("\n    install their debug packages: on Debian the -dbgsym packages"
        " (find-dbgsym-packages from debian-goodies names them by build-id)\n", out);
}

char *zm__symhint(const zm__prof *p, zm__symtab *sym) {
  found f = {0};
  if (!sym)
    return NULL;
  scan(p, sym, &f);
  if (f.n == 0)
    return NULL;
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  if (!out)
    return NULL;
  write_hint(out, &f);
  if (fclose(out) != 0) {
    free(text);
    return NULL;
  }
  return text;
}
