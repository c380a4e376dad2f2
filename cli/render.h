/* The outputs of `zmem run`: each writes the whole run to f and returns 0,
 * or -1 when writing failed. */
#ifndef ZMC_RENDER_H
#define ZMC_RENDER_H

#include "model.h"

#include <stdio.h>

int zmc_write_text(FILE *f, const zmc_run *run);
int zmc_write_json(FILE *f, const zmc_run *run);
int zmc_write_svg(FILE *f, const zmc_run *run);
int zmc_write_trace(FILE *f, const zmc_run *run);
int zmc_write_html(FILE *f, const zmc_run *run); /* html.c */
/* len bytes of JSON as a <script> element may hold them (html.c). */
void zmc_html_script_safe(FILE *out, const char *s, size_t len);

/* s as a JSON string, quotes included. */
void zmc_json_str(FILE *f, const char *s);

/* A process's status in words: "exit 0", "SIGKILL", "exec", "unknown". */
const char *zmc_status_words(const zmc_proc *p, char *buf, size_t cap);

#endif
