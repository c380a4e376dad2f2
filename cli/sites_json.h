/* Allocation sites in the --json report and back: each process's
 * symbolised stacks with their six figures (docs/run.md, "sites"), so that
 * `zmem report` and `zmem diff` have what the live run had. */
#ifndef ZMC_SITES_JSON_H
#define ZMC_SITES_JSON_H

#include "jsonread.h"
#include "model.h"

#include <stdio.h>

/* The run-wide "sites" member with its trailing ",\n" (nothing without
 * sites). */
void zmc_sites_json_run(FILE *f, const zmc_run *run);

/* Process i's "sites" member, indented, with its trailing ",\n" (nothing
 * without sites). */
void zmc_sites_json_proc(FILE *f, const zmc_run *run, uint32_t i);

/* Rebuilds run->sites from the report's members (root: the whole report;
 * procs: its "processes" array, run->nprocs long). 0 (also when the
 * report has no sites), or -1 with the reason in err. */
int zmc_sites_json_read(const zmc_jv *root, const zmc_jv *procs, zmc_run *run, char *err,
                        size_t errlen);

#endif
