/* A library that the sites demo dlopens: it allocates through the
 * callback it is given, so that its function is an allocation site. */
#include <stddef.h>

void dl_site_alloc(void *(*rec)(size_t), void **out, int n, size_t size);
__attribute__((noinline)) void dl_site_alloc(void *(*rec)(size_t), void **out, int n,
                                             size_t size) {
  for (int i = 0; i < n; i++)
    out[i] = rec(size);
  __asm__ volatile("" ::: "memory");
}
