/* Reading the shared record, which the program could have overwritten:
 * every read goes through a copy, at offsets the launcher fixed itself,
 * and every count is checked before it is used. */
#ifndef ZMC_READ_H
#define ZMC_READ_H

#include "model.h"

/* Checks the header against the one the launcher wrote; NULL when it is
 * intact, else a one-line reason. */
const char *zmc_check_header(const void *base, const zmr_header *wrote);

/* Number of process records claimed, at most ZMR_MAX_PROCS. */
uint32_t zmc_claimed(const void *base, uint32_t *lost);

/* Copies record i into out (each byte read once) and checks the copy;
 * NULL when its figures are consistent, else the reason, also left in
 * out->untrusted. */
const char *zmc_read_proc(const void *base, uint32_t i, uint64_t start_ns,
                          zmc_proc *out);

/* The live figures of record i now (for the timeline), each field read
 * once; *running_pid: its pid while it runs, else 0. false: unclaimed. */
bool zmc_live(const void *base, uint32_t i, int64_t *req, int64_t *held,
              int *running_pid);

/* Processes that found the record's descriptor closed or reused and
 * reopened the record through the launcher's /proc entry. */
uint64_t zmc_reattached(const void *base);

#endif
