/* Two libraries built from this file (NAMES_FN alpha_alloc and
 * beta_alloc): the same code at the same offsets, so that the second,
 * loaded once the first is closed, lies at the same addresses with the
 * same return addresses. */
#include <stdlib.h>
#include <string.h>

void *NAMES_FN(size_t size);
__attribute__((noinline)) void *NAMES_FN(size_t size) {
  void *p = malloc(size);
  if (p)
    memset(p, 1, size);
  __asm__ volatile("" ::: "memory");
  return p;
}
