/* Prints zmem's report after a small tagged workload.
 *   zmem_report_example [text|json|prometheus] */
#include <zmem.h>

#include <stdio.h>
#include <string.h>

/* The format named name; -1 for an unknown name. */
static int format_of(const char *name) {
  static const struct {
    const char *name;
    zm_format format;
  } formats[] = {{"text", ZM_FORMAT_TEXT},
                 {"json", ZM_FORMAT_JSON},
                 {"prometheus", ZM_FORMAT_PROMETHEUS}};
  for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
    if (strcmp(name, formats[i].name) == 0)
      return (int)formats[i].format;
  return -1;
}

int main(int argc, char **argv) {
  int f = format_of(argc > 1 ? argv[1] : "text");
  if (argc > 2 || f < 0) {
    fprintf(stderr, "usage: %s [text|json|prometheus]\n", argv[0]);
    return 2;
  }
  zm_tag db = zm_tag_new("db");
  zm_tag index = zm_tag_new_child(db, "index");
  zm_tag net = zm_tag_new("net");
  zm_tag_set_limit(db, 1 << 20);
  void *rows = zm_calloc_tag(db, 1000, 64);
  void *btree = zm_malloc_tag(index, 20000);
  void *conn = zm_malloc_tag(net, 4096);
  zm_free(zm_malloc_tag(net, 100000)); /* raises net's peak */
  int rc = zm_stats_print(stdout, (zm_format)f);
  zm_free(rows);
  zm_free(btree);
  zm_free(conn);
  return rc;
}
