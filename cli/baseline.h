/* Reading an earlier run's --json report, for --baseline. */
#ifndef ZMC_BASELINE_H
#define ZMC_BASELINE_H

#include <stdint.h>

/* Reads path and returns 0 with its summary's peak_requested_bytes in
 * *peak, or -1 after printing why it is not a zmem run report. */
int zmc_read_baseline(const char *path, uint64_t *peak);

#endif
