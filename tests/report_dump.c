/* Prints zm_stats_print's report for check_report.py, after a workload that
 * touches every figure, and writes what the getters say to a file so that
 * the script can compare the report against them.
 *   report_dump text|json|prometheus EXPECT_FILE [tags] */
#include <zmem.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Names chosen to need escaping in every format; "\xff" is invalid UTF-8. */
static const char *const names[] = {"db", "q\"uote", "back\\slash",
                                    "new\nline", "\001ctl\r", "bad\xff",
                                    "caf\xc3\xa9", "{a=\"b\"}"};

static void *blocks[64];
static int nblocks;

static void keep(void *p) {
  if (!p || nblocks == 64)
    exit(3);
  blocks[nblocks++] = p;
}

static void tagged_workload(void) {
  zm_tag t[8];
  for (int i = 0; i < 8; i++) {
    if (i < 3)
      t[i] = zm_tag_new(names[i]);
    else /* depths 2 and, for the last, 3 */
      t[i] = zm_tag_new_child(i == 7 ? t[3] : t[i % 3], names[i]);
    if (t[i] == ZM_TAG_INVALID)
      exit(4);
    keep(zm_malloc_tag(t[i], 100 * (size_t)(i + 1)));
  }
  zm_tag_set_limit(t[0], 1 << 30);
  zm_tag_set_current(t[4]);
  keep(zm_calloc(7, 9));
  zm_tag_set_current(ZM_TAG_DEFAULT);
}

static void workload(int tags) {
  if (tags && zm_tags_enable() != 0)
    exit(5);
  if (zm_configure("limit=1G, soft_limit=512M") != 0)
    exit(6);
  if (tags)
    tagged_workload();
  keep(zm_strdup("hello"));
  keep(zm_aligned_alloc(64, 1000));
  void *r = zm_malloc(16);
  r = zm_realloc(r, 100000); /* moves */
  keep(r);
  zm_free(zm_malloc(5000));
  volatile size_t huge = (size_t)1 << 62;
  if (zm_try_malloc(huge) != NULL) /* one failure */
    exit(7);
}

static void expect_tags(FILE *f) {
  for (zm_tag t = 0; t < zm_tag_count(); t++) {
    zm_tag_info ti = {.size = sizeof ti};
    if (zm_tag_stats(t, &ti) != 0)
      exit(8);
    fprintf(f, "tag %" PRIu32 " %lld %u %zu %zu %zu %" PRIu64 " %" PRIu64
               " %zu ",
            ti.tag, ti.parent == ZM_TAG_INVALID ? -1LL : (long long)ti.parent,
            ti.depth, ti.used, ti.live_blocks, ti.peak, ti.calls, ti.failures,
            ti.limit);
    for (const char *c = ti.name; *c; c++)
      fprintf(f, "%02x", (unsigned char)*c);
    fprintf(f, "\n");
  }
}

static void expect(const char *path) {
  FILE *f = fopen(path, "w");
  zm_stats st = {.size = sizeof st};
  if (!f || zm_get_stats(&st) != 0)
    exit(9);
  fprintf(f, "used %zu\npeak %zu\nlive_blocks %zu\n", st.used, st.peak,
          st.live_blocks);
  fprintf(f, "malloc %" PRIu64 "\ncalloc %" PRIu64 "\nrealloc %" PRIu64
             "\naligned_alloc %" PRIu64 "\nfree %" PRIu64 "\n",
          st.malloc_calls, st.calloc_calls, st.realloc_calls, st.aligned_calls,
          st.free_calls);
  fprintf(f, "failures %" PRIu64 "\nrealloc_moved %" PRIu64 "\n", st.failures,
          st.realloc_moved);
  fprintf(f, "limit %zu\nsoft_limit %zu\n", zm_get_limit(),
          zm_get_soft_limit());
  fprintf(f, "backend %s\nlayout %s\ntags_enabled %d\n", st.backend,
          st.layout == ZM_LAYOUT_LEAN ? "lean" : "header", zm_tags_enabled());
  if (zm_tags_enabled())
    expect_tags(f);
  fclose(f);
}

int main(int argc, char **argv) {
  static const char *const formats[] = {"text", "json", "prometheus"};
  int fmt = -1;
  for (int i = 0; argc >= 3 && i < 3; i++)
    if (strcmp(argv[1], formats[i]) == 0)
      fmt = i;
  if (fmt < 0) {
    fprintf(stderr, "usage: report_dump text|json|prometheus FILE [tags]\n");
    return 2;
  }
  workload(argc > 3 && strcmp(argv[3], "tags") == 0);
  if (zm_stats_print(stdout, (zm_format)fmt) != 0)
    return 10;
  expect(argv[2]); /* nothing allocated through zmem since the report */
  for (int i = 0; i < nblocks; i++)
    zm_free(blocks[i]);
  return 0;
}
