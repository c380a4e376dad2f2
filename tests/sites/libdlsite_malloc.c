/* A library that sites_prog dlopens: its function allocates with malloc. */
#include <stdlib.h>
#include <string.h>

void dl_site_alloc(void **out, int n, size_t size);
__attribute__((noinline)) void dl_site_alloc(void **out, int n, size_t size) {
  for (int i = 0; i < n; i++) {
    out[i] = malloc(size);
    if (out[i])
      memset(out[i], 2, 64);
  }
  __asm__ volatile("" ::: "memory");
}
