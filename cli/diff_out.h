/* The outputs of `zmem diff`, each rendered from the comparison alone. */
#ifndef ZMC_DIFF_OUT_H
#define ZMC_DIFF_OUT_H

#include "diff.h"

/* In the order of their options: --output (the text), --json, --pprof,
 * --html. A further output adds its entry, its option and its writer here. */
enum { ZMC_DO_TEXT, ZMC_DO_JSON, ZMC_DO_PPROF, ZMC_DO_HTML, ZMC_DO_N };

/* The text to stdout (unless quiet or out[ZMC_DO_TEXT] is set) and each
 * output file whose path is set. 0, or -1 when one could not be written. */
int zmc_diff_render(const zmc_diff *df, const char *const out[ZMC_DO_N], bool quiet);

int zmc_diff_write_text(FILE *f, const zmc_diff *df);
int zmc_diff_write_json(FILE *f, const zmc_diff *df);
int zmc_diff_write_pprof(FILE *f, const zmc_diff *df);
int zmc_diff_write_html(FILE *f, const zmc_diff *df); /* diff_html.c */

#endif
