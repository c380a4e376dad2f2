/* Run-wide figures from the per-process ones, and number formatting shared
 * by the renderers. */
#ifndef ZMC_SUMMARY_H
#define ZMC_SUMMARY_H

#include "model.h"

#include <stdio.h>

/* Fills run's summary fields from procs and samples. */
void zmc_summarize(zmc_run *run);

/* "12.3 MiB" (or "512 B") into buf; returns buf. */
const char *zmc_human(char *buf, size_t cap, double bytes);

/* Parses "1234", "64K", "1.5M", "2G", "1T" (binary units, optional "B" or
 * "iB"); false on anything else. */
bool zmc_parse_size(const char *s, uint64_t *out);
/* Parses "10", "2.5", "10%"; false on anything else or a negative number. */
bool zmc_parse_pct(const char *s, double *out);

/* a + b, saturated at the ends of int64_t (figures from the record may be
 * anything). */
int64_t zmc_sat_add(int64_t a, int64_t b);

/* A process's bytes it allocated that are still live (inherited excluded). */
int64_t zmc_own_live(const zmc_proc *p);
int64_t zmc_own_blocks(const zmc_proc *p);

/* Indexes of the (at most) n processes with the largest requested peaks,
 * in record order, into pick; returns how many. */
uint32_t zmc_top(const zmc_run *run, uint32_t *pick, uint32_t n);

#endif
