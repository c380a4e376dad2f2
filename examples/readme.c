#include <zmem.h>
#include <stdio.h>

int main(void) {
  zm_tag cache = zm_tag_new("cache");        /* per-subsystem accounting */
  zm_set_limit(64 << 20);                    /* never more than 64 MiB */
  char *name = zm_strdup("zmem");            /* OOM: handler, then abort */
  void *big = zm_try_malloc((size_t)1 << 40); /* over the limit: NULL */
  void *entry = zm_malloc_tag(cache, 4096);
  printf("used %zu, cache %zu, big %p\n", zm_used_memory(), zm_tag_used(cache), big);
  zm_free(entry);
  zm_free(name);
  return zm_stats_print(stdout, ZM_FORMAT_TEXT);
}
