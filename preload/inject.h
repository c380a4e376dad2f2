/* Fault injection for `zmem run --fail/--fail-p` and `zmem sweep`: the
 * setting comes from the launcher in ZMR_ENV_FAULT and is handed to the
 * core's fault policy (zm_configure), which numbers the allocation requests
 * and refuses the chosen ones; this module notes each injected failure in
 * the process's record, and for `zmem sweep --by-site` takes the census of
 * the call sites of every request (record.h, ZMR_ENV_CENSUS). docs/sweep.md says how requests are numbered. */
#ifndef ZMP_INJECT_H
#define ZMP_INJECT_H

#include <stdbool.h>

/* A fault setting is active in this process. */
extern bool zmp_inject_on;

/* Applies the launcher's setting, if any; at start-up, before the first
 * counted request. */
void zmp_inject_init(void);

/* An allocation request just failed: if the core injected the failure,
 * records it (count, request number, call stack with sites on). Called
 * inside the preload's recursion guard. */
void zmp_inject_failed(void);

/* The process is exiting: records how many requests it numbered, and
 * with ZMR_ENV_CENSUS set writes its site census (record.h). */
void zmp_inject_exit(void);

#endif
