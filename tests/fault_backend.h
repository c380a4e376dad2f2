/* A backend for tests: wraps another backend (usually *zm_get_backend()),
 * counts every call, records what zmem asked for, and can fail the Nth
 * allocating call (malloc, realloc or aligned_alloc; free cannot fail).
 *
 * One instance at a time: fault_install() copies the wrapped backend, fills in
 * a zm_backend whose ud points at the instance and installs it. */
#ifndef ZMEM_TEST_FAULT_BACKEND_H
#define ZMEM_TEST_FAULT_BACKEND_H

#include <zmem.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct fault_backend {
  zm_backend inner;       /* the wrapped backend, copied */
  zm_backend outer;       /* what was installed */
  _Atomic long mallocs;   /* calls of each member */
  _Atomic long reallocs;
  _Atomic long frees;
  _Atomic long aligned;
  _Atomic long usable;
  _Atomic long armed_calls; /* allocating calls since fault_arm */
  _Atomic long fail_at;     /* the armed_calls number to fail; 0: none */
  _Atomic long injected;    /* failures injected since fault_arm */
  _Atomic size_t min_size;  /* smallest size any call asked for */
  _Atomic size_t max_size;  /* largest size any call asked for */
  _Atomic long bad_realloc; /* realloc calls with NULL or size 0 */
} fault_backend;

/* Which members of the wrapped backend to pass through. usable_size: false
 * forces the header layout; aligned_alloc: false hides it. */
typedef struct fault_opts {
  bool usable_size;
  bool aligned_alloc;
} fault_opts;

/* Wraps `inner` (copied), installs the wrapper with zm_set_backend and
 * returns the instance, or NULL with errno from zm_set_backend. */
fault_backend *fault_install(const zm_backend *inner, fault_opts opts);

/* Fails the nth allocating call from now (n >= 1); 0 disarms. Resets the
 * per-arm counters. */
void fault_arm(fault_backend *f, long n);

/* Allocating calls the backend received (malloc + realloc + aligned). */
long fault_alloc_calls(fault_backend *f);

#endif
