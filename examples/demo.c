/* A tour of zmem: allocate, account, handle failure, read the stats. */
#include <zmem.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* n bytes for people: "4.0 EiB". */
static const char *quantity(size_t n, char *buf, size_t cap) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB",
                                      "EiB"};
  double v = (double)n;
  int u = 0;
  while (v >= 1024 && u < 6) {
    v /= 1024;
    u++;
  }
  snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", v, units[u]);
  return buf;
}

/* The handler gets the request's size; SIZE_MAX when count * size
 * overflowed, so that no real size is reported for it. */
static void on_oom(size_t size, void *arg) {
  char q[32];
  ++*(int *)arg;
  if (size == SIZE_MAX)
    fputs("demo: OOM handler called: count * size overflows size_t\n", stderr);
  else
    fprintf(stderr, "demo: OOM handler called for %s\n",
            quantity(size, q, sizeof q));
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
  char q[32];
  printf("try_malloc(%s): %p (%s)\n", quantity(big, q, sizeof q), huge,
         strerror(errno));
  void *overflow = zm_calloc(big, 4); /* 16 EiB overflows: handler runs */
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
