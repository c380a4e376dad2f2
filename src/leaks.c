/* The leak report: live blocks grouped by allocation site, largest first,
 * and the optional check at exit (leaks=1). Sites come from the debug
 * layout's live-block list; other layouts give the totals only. */
#include "debug.h"
#include "layout.h"
#include "prim/prim.h"
#include "wiring.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static _Atomic int check_at_exit;

typedef struct group {
  zm__site site;
  size_t bytes, blocks;
} group;

static int by_site(const void *a, const void *b) {
  const zm__live *x = a, *y = b;
  if (!x->site.file != !y->site.file)
    return x->site.file ? -1 : 1;
  int c = x->site.file ? strcmp(x->site.file, y->site.file) : 0;
  if (c)
    return c;
  return x->site.where < y->site.where ? -1 : x->site.where > y->site.where;
}

static int by_bytes(const void *a, const void *b) {
  const group *x = a, *y = b;
  if (x->bytes != y->bytes)
    return x->bytes > y->bytes ? -1 : 1;
  return x->blocks > y->blocks ? -1 : x->blocks < y->blocks;
}

/* Sorts the blocks by site and folds them into groups, largest first. */
static size_t fold(zm__live *b, size_t n, group *g) {
  qsort(b, n, sizeof *b, by_site);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (!k || by_site(&b[i], &b[i - 1]) != 0)
      g[k++] = (group){b[i].site, 0, 0};
    g[k - 1].bytes += b[i].size;
    g[k - 1].blocks++;
  }
  qsort(g, k, sizeof *g, by_bytes);
  return k;
}

static int print_groups(FILE *out, const group *g, size_t k) {
  size_t bytes = 0, blocks = 0;
  for (size_t i = 0; i < k; i++)
    bytes += g[i].bytes, blocks += g[i].blocks;
  fprintf(out, "zmem: %zu bytes in %zu live block%s from %zu site%s\n",
          bytes, blocks, blocks == 1 ? "" : "s", k, k == 1 ? "" : "s");
  for (size_t i = 0; i < k; i++) {
    zm__line l = {.n = 0};
    zm__site_put(&l, g[i].site);
    fprintf(out, "%12zu bytes in %6zu block%s at %.*s\n", g[i].bytes,
            g[i].blocks, g[i].blocks == 1 ? " " : "s", (int)l.n, l.s);
  }
  return ferror(out) ? -1 : 0;
}

/* The live blocks copied out, grouped and printed; the memory is mapped for
 * the call, not allocated, so the report leaves the figures it shows alone. */
static int report_sites(FILE *out) {
  for (;;) {
    size_t n = zm__dbg_snapshot(NULL, 0) + 64; /* room for a few more */
    size_t len = n * (sizeof(zm__live) + sizeof(group));
    zm__live *b = zm__prim_map(len);
    if (!b) {
      errno = ENOMEM;
      return -1;
    }
    size_t live = zm__dbg_snapshot(b, n);
    int rc = 1;
    if (live <= n)
      rc = print_groups(out, (group *)(b + n), fold(b, live, (group *)(b + n)));
    zm__prim_unmap(b, len);
    if (rc <= 0)
      return rc;
  }
}

int zm_leak_report(FILE *out) {
  if (!out) {
    errno = EINVAL;
    return -1;
  }
  if (zm__layout() == ZM_LAYOUT_DEBUG)
    return report_sites(out);
  zm_stats st = {.size = sizeof st};
  zm_get_stats(&st);
  fprintf(out,
          "zmem: %zu bytes in %zu live block%s (sites need the debug layout: "
          "debug=1)\n",
          st.used, st.live_blocks, st.live_blocks == 1 ? "" : "s");
  return ferror(out) ? -1 : 0;
}

int zm_set_leak_check(int on) {
  atomic_store(&check_at_exit, on != 0);
  return 0;
}

/* A destructor runs from exit() after the program's atexit handlers. */
__attribute__((destructor)) static void leak_check_at_exit(void) {
  if (!atomic_load(&check_at_exit))
    return;
  zm_stats st = {.size = sizeof st};
  if (zm_get_stats(&st) != 0 || st.live_blocks == 0)
    return;
  zm_leak_report(stderr);
  fflush(NULL);
  _exit(ZM_LEAK_EXIT_STATUS);
}
