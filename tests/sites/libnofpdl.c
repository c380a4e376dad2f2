/* A library that the unwind test dlopens, built without frame pointers:
 * its frames are found only through its unwind tables. */
#include <stddef.h>

size_t nofpdl_call(size_t (*cb)(void *), void *arg, int depth);
__attribute__((noinline)) size_t nofpdl_call(size_t (*cb)(void *), void *arg, int depth) {
  volatile long spill[6] = {depth};
  size_t n = depth <= 1 ? cb(arg) : nofpdl_call(cb, arg, depth - 1);
  __asm__ volatile("" ::: "memory");
  return n + (size_t)spill[2];
}
