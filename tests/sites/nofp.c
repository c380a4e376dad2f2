/* Built with -fomit-frame-pointer: functions whose frames carry no frame
 * pointer, between the test and the stack capture. */
#include "nofp.h"

__attribute__((noinline)) size_t nofp_inner(size_t (*cb)(void *), void *arg) {
  size_t n = cb(arg);
  __asm__ volatile("" ::: "memory"); /* no tail call */
  return n + 0;
}

__attribute__((noinline)) size_t nofp_outer(size_t (*cb)(void *), void *arg) {
  volatile long spill[8] = {0}; /* a frame of its own */
  size_t n = nofp_inner(cb, arg);
  __asm__ volatile("" ::: "memory");
  return n + (size_t)spill[0];
}

/* Recursion depth levels deep, each level with a frame of its own and no
 * frame pointer. */
__attribute__((noinline)) size_t nofp_recurse(int depth, size_t (*cb)(void *), void *arg) {
  volatile long spill[4] = {depth};
  size_t n = depth <= 1 ? cb(arg) : nofp_recurse(depth - 1, cb, arg);
  __asm__ volatile("" ::: "memory");
  return n + (size_t)spill[1];
}
