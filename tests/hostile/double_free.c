/* Frees one block twice. "small": a heap chunk (the C library's thread
 * cache notices). "large": a block the C library mapped on its own; before
 * the second free, its place is mapped again with a chunk header whose size
 * leads past the memory there: the C library checks the header and aborts,
 * a size query on the block would read past it. "fastbin": a small block
 * freed twice with another free in between, which the C library does not
 * notice: the program goes on and exits 0. "realloc": a realloc of a freed
 * block. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void refill(char *p) {
  char *page = (char *)((uintptr_t)(p - 16) & ~(uintptr_t)4095);
  void *at = mmap(page, 4096, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (at != page) {
    printf("could not map the block's place again\n");
    exit(3);
  }
  ((size_t *)p)[-1] = (size_t)1 << 20; /* 1 MiB, no flags */
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "small";
  if (strcmp(mode, "fastbin") == 0) {
    void *fill[7], *a = malloc(40), *b = malloc(40);
    for (int i = 0; i < 7; i++)
      fill[i] = malloc(40);
    for (int i = 0; i < 7; i++)
      free(fill[i]); /* the thread cache is full: a and b go to a fast bin */
    free(a);
    free(b);
    free(a);
    /* No stdio: its buffer, a larger request, would consolidate the bins
     * and find the damage. */
    (void)!write(1, "survived\n", 9);
    _exit(0);
  }
  size_t n = strcmp(mode, "large") == 0 ? (size_t)4 << 20 : 64;
  char *p = malloc(n);
  memset(p, 1, n);
  printf("freeing twice\n");
  fflush(stdout);
  free(p);
  if (strcmp(mode, "large") == 0)
    refill(p);
  if (strcmp(mode, "realloc") == 0)
    p = realloc(p, 128);
  free(p);
  printf("survived\n");
  return 0;
}
