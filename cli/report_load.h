/* A saved `zmem run --json` report read back into the model (model.h) that
 * the live run renders, so that `zmem report` and `zmem diff` reuse every
 * renderer unchanged. The file is untrusted: every member is checked, and a
 * report that does not hold up is refused with a one-line reason. */
#ifndef ZMC_REPORT_LOAD_H
#define ZMC_REPORT_LOAD_H

#include "jsonread.h"
#include "model.h"

#include <stddef.h>

/* Fills run (zeroed by the caller) from a parsed report. 0, or -1 with the
 * reason in err (run is then still to be freed). */
int zmc_report_from_json(const zmc_jv *root, zmc_run *run, char *err, size_t errlen);

/* Reads path into run. 0, or -1 with the reason in err. */
int zmc_report_load(const char *path, zmc_run *run, char *err, size_t errlen);

/* Frees what zmc_report_from_json allocated in run. */
void zmc_report_free(zmc_run *run);

#endif
