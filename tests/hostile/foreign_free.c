/* Frees and reallocates blocks zmem never saw. "stack": a pointer into
 * the stack, which the C library refuses (an abort, its message);
 * "raw": blocks from the C library's own entry points reached past
 * the preload (dlsym(RTLD_NEXT)), freed through the interposed free and
 * realloc, which must pass them on untouched: the program exits 0. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void *(*malloc_fn)(size_t);

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "stack";
  if (strcmp(mode, "stack") == 0) {
    _Alignas(16) uint64_t buf[8] = {0, 0x41, 1, 2, 3, 4, 5, 6};
    printf("freeing a stack address\n");
    fflush(stdout);
    free((char *)&buf[2] + 8); /* not aligned as a block is */
    return 0;
  }
  /* The C library's malloc itself, whatever is interposed in front of it. */
  malloc_fn raw = (malloc_fn)dlsym(RTLD_DEFAULT, "__libc_malloc");
  if (!raw)
    return 3;
  long sum = 0;
  for (int i = 0; i < 1000; i++) {
    char *p = raw(i % 2 ? 100 : 300000);
    memset(p, 1, 100);
    if (i % 3 == 0) {
      p = realloc(p, 200);
      sum += p[99];
    }
    free(p);
  }
  printf("sum %ld\n", sum);
  return 0;
}
