/* Allocation sites in the preload (`zmem run --sites`): each counted block's
 * call stack goes into this process's stack table in the shared record
 * (sites_record.h), every allocation or only sampled ones. All calls are
 * made inside the preload's recursion guard. */
#ifndef ZMP_SITES_H
#define ZMP_SITES_H

#include "sample.h"
#include "sizes.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Claims this process's stack table when the launcher asked for sites;
 * after zmp_proc_init. Also registers the fork and thread-exit hooks. */
void zmp_sites_init(void);

/* Non-NULL when this process records sites (its stack table). */
extern void *zmp_sites_table;

/* The calling thread's sampler: its countdown is the common case, inline. */
extern __thread __attribute__((tls_model("initial-exec"), visibility("hidden")))
zm__sampler zmp__sampler;

/* The rest of zmp_sites_pick, with n already taken off the countdown. */
bool zmp__sites_pick_slow(size_t n, zmp_site *site);

/* Whether an allocation of n requested bytes gets a site (every one, or a
 * sampled one); if so, *site gets its stack-table entry and weights. The
 * entry's counters are untouched until zmp_sites_add. Only when
 * zmp_sites_table is set. The common case is one subtraction and one
 * comparison: the countdown is above 0 only while this thread samples
 * (before a thread's set-up it is 0, without sampling it is held at 0, so
 * those calls take the slow path; a fork child's thread is set up anew
 * when its countdown runs out, the Poisson process having no memory). */
static inline bool zmp_sites_pick(size_t n, zmp_site *site) {
  zmp__sampler.until -= (int64_t)n;
  if (__builtin_expect(zmp__sampler.until > 0, 1))
    return false;
  return zmp__sites_pick_slow(n, site);
}

/* Counts a block with that site in the stack table (once its site is
 * stored with it, see sizes.h), and releases it (freed, or moved by
 * realloc). site->count must not be 0. */
void zmp_sites_add(const zmp_site *site);
void zmp_sites_sub(const zmp_site *site);

/* After the program's dlclose returned: when the loader removed a module
 * since the last call, stacks counted from now on carry the next era tag
 * (stacktab.h), and the modules loaded from now on are listed anew. */
void zmp_sites_unloaded(void);

/* The caller's call stack (the preload's own frames left out), at most
 * max return addresses, innermost first, into pcs; their modules are in
 * the shared module list. 0 when this process has no sites. */
size_t zmp_sites_stack(uintptr_t *pcs, size_t max);

#endif
