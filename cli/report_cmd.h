/* `zmem report FILE.json`: a saved `zmem run --json` report rendered
 * again (docs/report.md). */
#ifndef ZMC_REPORT_CMD_H
#define ZMC_REPORT_CMD_H

#include <stdio.h>

int zmc_report_main(int argc, char **argv);
void zmc_report_usage(FILE *f);

#endif
