/* Allocation sites in the preload (`zmem run --sites`): each counted block's
 * call stack goes into this process's stack table in the shared record
 * (sites_record.h), every allocation or only sampled ones. All calls are
 * made inside the preload's recursion guard. */
#ifndef ZMP_SITES_H
#define ZMP_SITES_H

#include <stddef.h>
#include <stdint.h>

/* Claims this process's stack table when the launcher asked for sites;
 * after zmp_proc_init. Also registers the fork and thread-exit hooks. */
void zmp_sites_init(void);

/* A new block p of n requested bytes. */
void zmp_sites_new(void *p, size_t n);

/* Block p is gone (freed, or moved by realloc). */
void zmp_sites_gone(void *p);

/* The caller's call stack (the preload's own frames left out), at most
 * max return addresses, innermost first, into pcs; their modules are in
 * the shared module list. 0 when this process has no sites. */
size_t zmp_sites_stack(uintptr_t *pcs, size_t max);

#endif
