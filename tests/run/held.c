/* Leaves blocks of many kinds live (small, large, mapped, aligned, zeroed,
 * grown and shrunk) when argv[2] is 1, none when 0, and writes the sums of
 * their requested and usable sizes, the usable size asked of the allocator
 * library argv[1] itself (libc.so.6, libjemalloc.so.2, ...), not of zmem.
 * With argv[2] "m" (glibc only), writes whether a 200 KiB block is mapped
 * by mmap: glibc raises its threshold for that when a mapped block is
 * freed, so the answer changes if anything before main freed one. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *keep[64];

int main(int argc, char **argv) {
  if (argc != 3)
    return 2;
  void *lib = dlopen(argv[1], RTLD_LAZY | RTLD_NOLOAD);
  size_t (*usable)(void *) = lib ? (size_t(*)(void *))dlsym(lib, "malloc_usable_size") : NULL;
  if (!usable)
    return 2;
  if (argv[2][0] == 'm') {
    void *p = malloc(200 << 10);
    printf("%s\n", p && (((size_t *)p)[-1] & 2) ? "mapped" : "heap");
    free(p);
    return 0;
  }
  static const size_t sizes[] = {1, 24, 100, 1000, 5000, 100000, 300000, 3 << 20};
  size_t requested = 0, held = 0, k = 0;
  if (argv[2][0] == '1') {
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
      keep[k] = malloc(sizes[i]);
      requested += sizes[i];
      void *gone = malloc(sizes[i]); /* freed: counts nowhere at exit */
      free(gone);
      k++;
    }
    keep[k++] = memalign(64, 100), requested += 100;
    keep[k++] = memalign(4096, 5000), requested += 5000;
    keep[k++] = calloc(10, 33), requested += 330;
    keep[k] = realloc(malloc(50), 7000), requested += 7000, k++;
    keep[k] = realloc(malloc(7000), 50), requested += 50, k++;
    keep[k] = realloc(malloc(400000), 200000), requested += 200000, k++;
    for (size_t i = 0; i < k; i++) {
      if (!keep[i])
        return 3;
      held += usable(keep[i]);
    }
  }
  char line[96];
  int n = snprintf(line, sizeof line, "%zu %zu\n", requested, held);
  return write(1, line, (size_t)n) == n ? 0 : 4;
}
