/* Fault injection in the preload: see inject.h. */
#define _GNU_SOURCE
#include "inject.h"

#include "proc.h"
#include "sites.h"

#include <zmem.h>

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool zmp_inject_on;
/* The core's hit count when this process last looked: a fork child
 * inherits it with the core's counters, so it records only its own. */
static _Atomic uint64_t seen_hits;

void zmp_inject_init(void) {
  const char *s = getenv(ZMR_ENV_FAULT);
  if (!s || !*s)
    return;
  if (zm_configure(s) != 0) {
    /* The launcher checks the values; this is someone else's setting. */
    static const char msg[] = "zmem: " ZMR_ENV_FAULT " ignored: ";
    (void)!write(2, msg, sizeof msg - 1);
    (void)!write(2, zm_last_error(), strlen(zm_last_error()));
    (void)!write(2, "\n", 1);
    return;
  }
  zmp_inject_on = true;
}

static void note_stack(zmr_proc *p) {
  uintptr_t pcs[ZMR_FAULT_MAX_PCS];
  size_t n = zmp_sites_stack(pcs, ZMR_FAULT_MAX_PCS);
  for (size_t i = 0; i < n; i++)
    p->ext[ZMR_EXT_FAULT_PCS + i] = pcs[i];
  p->ext[ZMR_EXT_FAULT_NPCS] = n;
}

/* Claims the hits not yet recorded; 0 when there are none (a real
 * failure, or another thread recorded them). */
static uint64_t claim_hits(void) {
  uint64_t hits = zm_fault_hits();
  uint64_t seen = atomic_load_explicit(&seen_hits, memory_order_relaxed);
  while (seen < hits && !atomic_compare_exchange_weak(&seen_hits, &seen, hits))
    ;
  return seen < hits ? hits - seen : 0;
}

void zmp_inject_failed(void) {
  uint64_t mine = claim_hits();
  zmr_proc *p = zmp_proc;
  if (!mine || !p)
    return;
  /* The request number is exact with one thread; with several, another
   * thread's request may have been numbered in between. */
  uint64_t none = 0;
  if (__atomic_compare_exchange_n(&p->ext[ZMR_EXT_FAULT_FIRST], &none, zm_fault_requests(),
                                  false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
    note_stack(p);
  __atomic_fetch_add(&p->ext[ZMR_EXT_FAULT_HITS], mine, __ATOMIC_RELAXED);
}

void zmp_inject_exit(void) {
  if (zmp_inject_on && zmp_proc)
    zmp_proc->ext[ZMR_EXT_FAULT_REQUESTS] = zm_fault_requests();
}
