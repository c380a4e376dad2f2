/* Reading an earlier run's --json report, for --baseline. */
#ifndef ZMC_BASELINE_H
#define ZMC_BASELINE_H

#include <stdbool.h>
#include <stdint.h>

/* Reads path and returns 0 with its summary's peak_requested_bytes in
 * *peak, or -1 after printing why it is not a zmem run report. */
int zmc_read_baseline(const char *path, uint64_t *peak);

/* The --max-increase gate of `zmem run --baseline` and `zmem diff`: when
 * figure what ("heap peak") is now against base in path grew by more than
 * max_pct percent, says so on stderr and returns true. */
bool zmc_gate_increase(const char *what, uint64_t now, uint64_t base, const char *path,
                       double max_pct);

#endif
