/* The sites as a pprof profile: a gzipped profile.proto message
 * (github.com/google/pprof, proto/profile.proto) that `go tool pprof`,
 * the pprof web UI and speedscope open. Six sample types, in this order:
 * alloc_objects/count, alloc_space/bytes (in total), inuse_objects/count,
 * inuse_space/bytes (live at exit), peak_inuse_objects/count,
 * peak_inuse_space/bytes (live at the peak); the default is
 * peak_inuse_space. One location per return address, one function per
 * distinct (name, file); frames without a symbol get a function named
 * module+0xoffset. */
#ifndef ZM_CLI_PPROF_H
#define ZM_CLI_PPROF_H

#include "profile.h"

#include <stdio.h>

typedef struct zm__pprof_opts {
  int64_t time_nanos;      /* when the program started, 0 if unknown */
  int64_t duration_nanos;  /* how long it ran, 0 if unknown */
  int64_t sample_rate;     /* bytes between samples, 0: every allocation */
  const char *comment;     /* e.g. the command line; may be NULL */
} zm__pprof_opts;

/* Writes p, gzipped, to out. 0, or -1 with errno (ENOMEM, or the write's). */
int zm__pprof_write(const zm__prof *p, FILE *out, const zm__pprof_opts *o);

/* The same, not gzipped, into a malloc'd buffer (for tests). */
int zm__pprof_encode(const zm__prof *p, const zm__pprof_opts *o, unsigned char **buf,
                     size_t *len);

#endif
