/* Prints zmem's report after a small tagged workload.
 *   zmem_report_example [text|json|prometheus] */
#include <zmem.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  const char *fmt = argc > 1 ? argv[1] : "text";
  zm_format f = !strcmp(fmt, "json")         ? ZM_FORMAT_JSON
                : !strcmp(fmt, "prometheus") ? ZM_FORMAT_PROMETHEUS
                                             : ZM_FORMAT_TEXT;
  zm_tag db = zm_tag_new("db");
  zm_tag index = zm_tag_new_child(db, "index");
  zm_tag net = zm_tag_new("net");
  zm_tag_set_limit(db, 1 << 20);
  void *rows = zm_calloc_tag(db, 1000, 64);
  void *btree = zm_malloc_tag(index, 20000);
  void *conn = zm_malloc_tag(net, 4096);
  zm_free(zm_malloc_tag(net, 100000)); /* raises net's peak */
  int rc = zm_stats_print(stdout, f);
  zm_free(rows);
  zm_free(btree);
  zm_free(conn);
  return rc;
}
