/* A tour of zmem: allocate, account, handle failure, read the stats. */
#include <zmem.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void on_oom(size_t size, void *arg) {
  ++*(int *)arg;
  fprintf(stderr, "demo: OOM handler called for %zu bytes\n", size);
}

int main(void) {
  int ooms = 0;
  zm_set_oom_handler(on_oom, &ooms);

  char *name = zm_strdup("zmem");
  int *table = zm_calloc(1000, sizeof *table);
  double *v = zm_aligned_alloc(64, 32 * sizeof *v);
  printf("live after 3 allocations: %zu bytes\n", zm_used_memory());

  table = zm_reallocarray(table, 4000, sizeof *table);
  printf("after growing the table:  %zu bytes\n", zm_used_memory());

  volatile size_t big = (size_t)1 << 62; /* run-time values: the compiler */
  void *huge = zm_try_malloc(big);      /* would reject constants */
  printf("try_malloc(4 EiB): %p (%s)\n", huge, strerror(errno));
  void *overflow = zm_calloc(big, 4); /* overflow: handler runs */
  printf("calloc overflow: %p, handler calls: %d\n", overflow, ooms);

  zm_free(v);
  zm_free(table);
  zm_free(name);

  zm_stats st = {.size = sizeof st};
  zm_get_stats(&st);
  printf("backend %s, layout %s\n", st.backend,
         st.layout == ZM_LAYOUT_LEAN ? "lean" : "header");
  printf("used %zu, peak %zu, live blocks %zu\n", st.used, st.peak,
         st.live_blocks);
  printf("calls: malloc %llu calloc %llu realloc %llu aligned %llu free %llu,"
         " failures %llu\n",
         (unsigned long long)st.malloc_calls,
         (unsigned long long)st.calloc_calls,
         (unsigned long long)st.realloc_calls,
         (unsigned long long)st.aligned_calls,
         (unsigned long long)st.free_calls, (unsigned long long)st.failures);
  return st.used == 0 ? 0 : 1;
}
