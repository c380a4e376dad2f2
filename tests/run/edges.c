/* The preload's edge cases, one mode per argument:
 *   align  aligned_alloc with alignments glibc 2.36 accepts though they are
 *          not powers of two or are 0: prints what each call gave, so that
 *          the output under zmem is compared with the plain run's; and
 *          whether malloc and free keep errno in a new thread (whose first
 *          call claims zmem's slot).
 *   fail   requests that fail (too large, overflowing counts): prints
 *          nothing; the report must count them as failures, never as bytes.
 *   live   keeps blocks of argv[2] sizes live and frees as many again: the
 *          report's live figures at exit are the kept ones' requested sizes
 *          (run with an allocator whose size query answers 0). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void show(const char *what, void *p) {
  printf("%s: %s (%s)\n", what, p ? "block" : "NULL", p ? "-" : strerror(errno));
  free(p);
}

static void *errno_kept(void *arg) {
  (void)arg;
  errno = 77;
  free(malloc(10));
  free(NULL);
  printf("errno kept: %s\n", errno == 77 ? "yes" : "no");
  return NULL;
}

static int align_mode(void) {
  pthread_t t;
  if (pthread_create(&t, NULL, errno_kept, NULL) || pthread_join(t, NULL))
    return 3;
  /* Through volatiles: clang 14 -O2 crashes on aligned_alloc with a
   * constant alignment that is not a power of two. */
  static volatile size_t align[] = {24, 0, 64, 3}, size[] = {48, 16, 100, 10};
  for (int i = 0; i < 4; i++) {
    char what[64];
    snprintf(what, sizeof what, "aligned_alloc(%zu, %zu)", align[i], size[i]);
    show(what, aligned_alloc(align[i], size[i]));
  }
  return 0;
}

static int fail_mode(void) {
  volatile size_t huge = SIZE_MAX - 4096, count = SIZE_MAX / 2;
  void *p = malloc(100);
  if (!p)
    return 3;
  int bad = 0;
  bad += malloc(huge) != NULL;
  bad += calloc(count, 4) != NULL;
  bad += reallocarray(NULL, count, 4) != NULL;
  bad += reallocarray(p, count, 4) != NULL;
  bad += realloc(p, huge) != NULL;
  bad += memalign(64, huge) != NULL;
  free(p);
  return bad ? 4 : 0;
}

static int live_mode(size_t n) {
  printf("kept:\n"); /* stdout's buffer, in every run */
  static const size_t sizes[] = {1, 24, 100, 1000, 5000, 100000, 300000, 3 << 20};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0] && i < n; i++) {
    free(malloc(sizes[i]));
    void *keep = malloc(sizes[i]);
    if (!keep)
      return 3;
    free(realloc(malloc(sizes[i]), sizes[i] / 2 + 1));
    printf("%zu\n", sizes[i]); /* kept: never freed */
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "align"))
    return align_mode();
  if (argc >= 2 && !strcmp(argv[1], "fail"))
    return fail_mode();
  if (argc >= 3 && !strcmp(argv[1], "live"))
    return live_mode(strtoul(argv[2], NULL, 10));
  return 2;
}
