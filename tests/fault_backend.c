/* The fault-injecting, counting test backend (see fault_backend.h). */
#include "fault_backend.h"

#include <errno.h>
#include <stdint.h>

static fault_backend the;

static void saw_size(fault_backend *f, size_t n) {
  size_t lo = atomic_load(&f->min_size);
  while (n < lo && !atomic_compare_exchange_weak(&f->min_size, &lo, n))
    ;
  size_t hi = atomic_load(&f->max_size);
  while (n > hi && !atomic_compare_exchange_weak(&f->max_size, &hi, n))
    ;
}

/* True when this allocating call is the one to fail. */
static bool should_fail(fault_backend *f) {
  long n = atomic_fetch_add(&f->armed_calls, 1) + 1;
  if (n != atomic_load(&f->fail_at))
    return false;
  atomic_fetch_add(&f->injected, 1);
  return true;
}

static void *f_malloc(void *ud, size_t n) {
  fault_backend *f = ud;
  atomic_fetch_add(&f->mallocs, 1);
  saw_size(f, n);
  if (should_fail(f))
    return NULL;
  return f->inner.malloc(f->inner.ud, n);
}

static void *f_realloc(void *ud, void *p, size_t n) {
  fault_backend *f = ud;
  atomic_fetch_add(&f->reallocs, 1);
  saw_size(f, n);
  if (!p || n == 0)
    atomic_fetch_add(&f->bad_realloc, 1);
  if (should_fail(f))
    return NULL;
  return f->inner.realloc(f->inner.ud, p, n);
}

static void f_free(void *ud, void *p) {
  fault_backend *f = ud;
  atomic_fetch_add(&f->frees, 1);
  f->inner.free(f->inner.ud, p);
}

static size_t f_usable(void *ud, const void *p) {
  fault_backend *f = ud;
  atomic_fetch_add(&f->usable, 1);
  return f->inner.usable_size(f->inner.ud, p);
}

static void *f_aligned(void *ud, size_t alignment, size_t n) {
  fault_backend *f = ud;
  atomic_fetch_add(&f->aligned, 1);
  saw_size(f, n);
  if (should_fail(f))
    return NULL;
  return f->inner.aligned_alloc(f->inner.ud, alignment, n);
}

fault_backend *fault_install(const zm_backend *inner, fault_opts opts) {
  fault_backend *f = &the;
  f->inner = *inner;
  atomic_store(&f->min_size, SIZE_MAX);
  atomic_store(&f->max_size, 0);
  f->outer = (zm_backend){
      .name = "fault",
      .malloc = f_malloc,
      .realloc = f_realloc,
      .free = f_free,
      .usable_size =
          opts.usable_size && inner->usable_size ? f_usable : NULL,
      .ud = f,
      .aligned_alloc =
          opts.aligned_alloc && inner->aligned_alloc ? f_aligned : NULL,
  };
  fault_arm(f, 0);
  if (zm_set_backend(&f->outer) != 0)
    return NULL;
  return f;
}

void fault_arm(fault_backend *f, long n) {
  atomic_store(&f->fail_at, n);
  atomic_store(&f->armed_calls, 0);
  atomic_store(&f->injected, 0);
}

long fault_alloc_calls(fault_backend *f) {
  return atomic_load(&f->mallocs) + atomic_load(&f->reallocs) +
         atomic_load(&f->aligned);
}
