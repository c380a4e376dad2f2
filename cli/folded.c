/* Folded stacks: see folded.h. */
#include "folded.h"

#include <errno.h>
#include <inttypes.h>

static void name(const char *s, FILE *out) {
  for (; *s; s++)
    putc(*s == ';' ? ':' : (*s == '\n' || *s == '\r') ? ' ' : *s, out);
}

int zm__folded_write(const zm__prof *p, int k, FILE *out) {
  for (uint32_t i = 0; i < p->nstacks; i++) {
    const zm__prof_stack *s = &p->stacks[i];
    if (s->v[k] <= 0)
      continue;
    uint32_t n = s->depth ? s->depth : 1;
    for (uint32_t d = n; d-- > 0;) {
      const char *nm = p->locs[s->loc[d]].name;
      name(nm ? nm : "?", out);
      if (d)
        putc(';', out);
    }
    fprintf(out, " %" PRId64 "\n", s->v[k]);
  }
  if (ferror(out)) {
    if (!errno)
      errno = EIO;
    return -1;
  }
  return 0;
}
