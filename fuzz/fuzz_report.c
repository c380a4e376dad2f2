/* The reader of saved reports (`zmem report`, `zmem diff`): the strict JSON
 * parser (cli/jsonread.c) and the model built from it (cli/report_load.c,
 * cli/sites_json.c), fed any bytes. A report it accepts is rendered by
 * every renderer, and written back as JSON, which must read back too. */
#define _GNU_SOURCE
#include "jsonread.h"
#include "render.h"
#include "report_load.h"
#include "sites_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static FILE *sink;

static void render(const zmc_run *run) {
  zmc_write_text(sink, run);
  zmc_sites_write_text(sink, run);
  zmc_write_svg(sink, run);
  zmc_write_trace(sink, run);
  zmc_sites_write_collapsed(sink, run);
  zmc_sites_write_flame(sink, run);
  zmc_sites_write_pprof(sink, run);
}

/* What the JSON writer makes of an accepted report reads back. */
static void round_trip(const zmc_run *run) {
  char *buf = NULL, err[512];
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f)
    return;
  zmc_write_json(f, run);
  fclose(f);
  zmc_jv *v = zmc_json_parse(buf, len, err, sizeof err);
  zmc_run again;
  memset(&again, 0, sizeof again);
  if (!v || zmc_report_from_json(v, &again, err, sizeof err) != 0) {
    fprintf(stderr, "the JSON written from an accepted report is refused: %s\n", err);
    abort();
  }
  zmc_report_free(&again);
  zmc_json_free(v);
  free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[512];
  if (!sink)
    sink = fopen("/dev/null", "w");
  zmc_jv *v = zmc_json_parse((const char *)data, size, err, sizeof err);
  if (!v)
    return 0;
  zmc_run run;
  memset(&run, 0, sizeof run);
  if (zmc_report_from_json(v, &run, err, sizeof err) == 0) {
    render(&run);
    round_trip(&run);
  }
  zmc_report_free(&run);
  zmc_json_free(v);
  return 0;
}
