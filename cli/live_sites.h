/* The live view's top sites now: read from the shared record and
 * symbolised on a thread of their own, since symbolising a large program
 * takes seconds and the launcher's loop must go on sampling, reaping and
 * forwarding signals meanwhile. */
#ifndef ZMC_LIVE_SITES_H
#define ZMC_LIVE_SITES_H

#include "model.h"

#include <stdio.h>

struct zmc_sites_opts;
typedef struct zmc_live_sites zmc_live_sites;

/* Starts the reader of the record at base; NULL when it cannot. */
zmc_live_sites *zmc_live_sites_start(const void *base, const struct zmc_sites_opts *o,
                                     uint64_t start_ns);

/* Writes the latest list (or a line saying it is being read) to f, and
 * asks for a fresh one when the reader is idle. */
void zmc_live_sites_write(zmc_live_sites *s, FILE *f);

/* Waits for the reader to finish the list it is reading, and frees it. */
void zmc_live_sites_stop(zmc_live_sites *s);

/* Copies the claimed process records of base into run->procs (grown as
 * needed), for one frame; false when out of memory. */
bool zmc_live_read_procs(const void *base, uint64_t start_ns, zmc_run *run);

#endif
