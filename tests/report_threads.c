/* Reports, options and system figures while other threads allocate, free
 * and register tags: a plain program (no Criterion), so that it also runs in
 * the TSan build, where Criterion cannot start. Exits non-zero on failure. */
#include <zmem.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define WORKERS 3
#define ROUNDS 2000

static atomic_bool stop;

static void *worker(void *arg) {
  char name[16];
  snprintf(name, sizeof name, "worker%d", (int)(size_t)arg);
  zm_tag t = zm_tag_new(name);
  if (t == ZM_TAG_INVALID)
    return (void *)1;
  zm_tag_set_current(t);
  void *keep[16] = {0};
  for (int i = 0; !atomic_load(&stop); i++) {
    zm_free(keep[i % 16]);
    keep[i % 16] = zm_try_malloc((size_t)(i % 5000) + 1);
  }
  for (int i = 0; i < 16; i++)
    zm_free(keep[i]);
  return NULL;
}

static int reporter(void) {
  FILE *null = fopen("/dev/null", "w");
  if (!null)
    return 1;
  for (int i = 0; i < ROUNDS / 10; i++) {
    zm_sys_stats sys = {.size = sizeof sys};
    if (zm_stats_print(null, (zm_format)(i % 3)) != 0 ||
        zm_get_sys_stats(&sys) != 0 ||
        zm_configure(i % 2 ? "limit=1G" : "limit=0,soft_limit=2G") != 0 ||
        zm_configure("limit=oops") != -1 ||
        strstr(zm_last_error(), "oops") == NULL)
      return 1;
    (void)zm_fragmentation_ratio();
  }
  fclose(null);
  return 0;
}

int main(void) {
  if (zm_configure("tags=1") != 0)
    return 2;
  pthread_t t[WORKERS];
  for (size_t i = 0; i < WORKERS; i++)
    if (pthread_create(&t[i], NULL, worker, (void *)i) != 0)
      return 3;
  int rc = reporter();
  atomic_store(&stop, true);
  for (int i = 0; i < WORKERS; i++) {
    void *r;
    pthread_join(t[i], &r);
    rc |= r != NULL;
  }
  if (zm_used_memory() != 0) {
    fprintf(stderr, "used %zu after every block was freed\n", zm_used_memory());
    rc = 1;
  }
  return rc;
}
