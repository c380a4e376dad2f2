/* Fault injection in the preload: see inject.h. */
#define _GNU_SOURCE
#include "inject.h"

#include "proc.h"
#include "sites.h"

#include <zmem.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool zmp_inject_on;
/* The core's hit count when this process last looked: a fork child
 * inherits it with the core's counters, so it records only its own. */
static uint64_t seen_hits;

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

void zmp_inject_failed(void) {
  uint64_t hits = zm_fault_hits();
  zmr_proc *p = zmp_proc;
  if (hits == seen_hits)
    return; /* a real failure */
  uint64_t mine = hits - seen_hits;
  seen_hits = hits;
  if (!p)
    return;
  /* Exact with one thread; with several, another thread's request may
   * have been numbered in between. */
  if (!p->ext[ZMR_EXT_FAULT_FIRST]) {
    p->ext[ZMR_EXT_FAULT_FIRST] = zm_fault_requests();
    note_stack(p);
  }
  p->ext[ZMR_EXT_FAULT_HITS] += mine;
}

void zmp_inject_exit(void) {
  if (zmp_inject_on && zmp_proc)
    zmp_proc->ext[ZMR_EXT_FAULT_REQUESTS] = zm_fault_requests();
}
