/* Makes N allocation requests, cycling through the allocation functions,
 * before any output (stdio allocates its buffer on first use), then prints
 * the number of each request that failed and whether errno was ENOMEM:
 * `zmem run --fail K` must fail exactly request K. A failed realloc must
 * leave the old block intact, which is checked too.
 *   nullcount N */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX 1000

static void *request(int i, void **keep, int *err) {
  void *p = NULL;
  errno = 0;
  switch (i % 5) {
  case 0: p = malloc(32); break;
  case 1: p = calloc(4, 16); break;
  case 2: /* grows the block kept from the last malloc */
    p = realloc(*keep, 4096);
    if (p)
      *keep = p;
    else if (*keep && memcmp(*keep, "keep", 5) != 0)
      *err = -1; /* the old block did not survive */
    break;
  case 3: p = aligned_alloc(64, 128); break;
  case 4:
    *err = posix_memalign(&p, 256, 100);
    return p;
  }
  *err = p ? 0 : errno;
  return p;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 20;
  static int failed[MAX], errs[MAX];
  static void *blocks[MAX];
  int nf = 0;
  void *keep = NULL;
  n = n < MAX ? n : MAX;
  for (int i = 0; i < n; i++) {
    int err = 0;
    if (i % 5 == 0 && keep == NULL) {
      keep = malloc(8);
      if (keep)
        memcpy(keep, "keep", 5);
      if (!keep) {
        failed[nf] = i + 1;
        errs[nf++] = ENOMEM;
      }
      continue;
    }
    void *p = request(i, &keep, &err);
    if (i % 5 != 2)
      blocks[i] = p;
    if (!p) {
      failed[nf] = i + 1;
      errs[nf++] = err;
    }
  }
  for (int i = 0; i < nf; i++)
    printf("request %d failed: %s\n", failed[i],
           errs[i] == ENOMEM ? "ENOMEM" : errs[i] < 0 ? "old block lost" : "other errno");
  printf("%d failed\n", nf);
  for (int i = 0; i < n; i++)
    free(blocks[i]);
  free(keep);
  return 0;
}
